/**
 * The config language server (server/language, bundled as LANGUAGE_SERVER_MODULE) over node IPC: checks,
 * hover, completion and code lenses in `*.inheritune.yaml` files, and what the sidebar and New Run
 * Config show about a config or a model folder (its custom requests; server/language/protocol.ts
 * defines them with the constants used here).
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import {
  CONFIG_INFO_REQUEST,
  CONFIG_INFO_RESULT,
  CONFIG_LANGUAGE_ID,
  DOWNLOAD_PROGRESS,
  DOWNLOAD_PROGRESS_NOTIFICATION,
  DOWNLOAD_REFERENCE_REQUEST,
  DOWNLOAD_REFERENCE_RESULT,
  HUB_MODELS_REQUEST,
  HUB_MODELS_RESULT,
  LANGUAGE_SERVER_MODULE,
  LENS_COMMANDS,
  REFERENCE_INFO_REQUEST,
  REFERENCE_INFO_RESULT,
  type CachedHubModel,
  type ConfigInfo,
  type ConfigInfoParams,
  type DownloadProgressParams,
  type DownloadReferenceParams,
  type DownloadReferenceResult,
  type LanguageServerOptions,
  type ReferenceInfoParams,
  type ReferenceInfoResult,
} from '../server/language/protocol.js';
import type { Schema } from '../server/protocol/schema.js';
import { settings } from './settings.js';

let client: LanguageClient | undefined;
let started: Promise<void> | undefined;
let log: vscode.LogOutputChannel | undefined;

export function startLanguageClient(context: vscode.ExtensionContext, output: vscode.LogOutputChannel): void {
  log = output;
  const module = context.asAbsolutePath(LANGUAGE_SERVER_MODULE);
  if (!fs.existsSync(module)) {
    output.warn(`${LANGUAGE_SERVER_MODULE} is not built: no config checks in the editor`);
    return;
  }
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6011'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: CONFIG_LANGUAGE_ID },
      { scheme: 'untitled', language: CONFIG_LANGUAGE_ID },
    ],
    outputChannel: output,
    markdown: { isTrusted: { enabledCommands: Object.values(LENS_COMMANDS) } },
    initializationOptions: { pythonPath: settings().pythonPath || undefined } satisfies LanguageServerOptions,
  };
  const c = new LanguageClient('inheritune', 'Inheritune Config', serverOptions, clientOptions);
  client = c;
  started = c.start().catch((e: unknown) => output.error(`language server: ${e instanceof Error ? e.message : String(e)}`));
  // The interpreter is an initialization option: a new one restarts the server (and its probes).
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('inheritune.pythonPath') || client !== c) return;
      void stopLanguageClient().then(() => startLanguageClient(context, output));
    }),
  );
}

export async function stopLanguageClient(): Promise<void> {
  const c = client;
  client = undefined;
  started = undefined;
  if (c) await c.stop(2000).catch(() => undefined);
}

/** A request to the running server, its answer checked against `schema`; undefined without a server or with a bad answer. */
async function ask<T>(method: string, params: unknown, schema: Schema<T>): Promise<T | undefined> {
  const c = client;
  if (!c || !started) return undefined;
  await started;
  if (!c.isRunning()) return undefined;
  try {
    const r = schema.check(await c.sendRequest(method, params), method);
    if (r.ok) return r.value;
    log?.warn(`language server: ${r.error}`);
  } catch (e) {
    log?.warn(`language server: ${method}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return undefined;
}

/** What the language server knows about the config at `uri` (open or not), its reference's analysis looked up in `runStores` too. */
export async function configInfo(uri: vscode.Uri, runStores: string[]): Promise<ConfigInfo | undefined> {
  return (await ask(CONFIG_INFO_REQUEST, { uri: uri.toString(), runStores } satisfies ConfigInfoParams, CONFIG_INFO_RESULT)) ?? undefined;
}

/** What the language server knows about the model folder `dir` (absolute): its description and newest analysis in `runStores`. */
export function referenceInfo(dir: string, runStores: string[]): Promise<ReferenceInfoResult | undefined> {
  return ask(REFERENCE_INFO_REQUEST, { dir, runStores } satisfies ReferenceInfoParams, REFERENCE_INFO_RESULT);
}

/** The models in the local Hugging Face cache (whole and partial), newest first; [] without a server. */
export async function hubModels(): Promise<CachedHubModel[]> {
  return (await ask(HUB_MODELS_REQUEST, {}, HUB_MODELS_RESULT)) ?? [];
}


/**
 * Has the language server download a Hub model into the Hugging Face cache; `onProgress` gets its
 * progress; cancelling `token` stops it. Throws with the server's message when it fails.
 */
export async function downloadReferenceModel(params: DownloadReferenceParams, onProgress: (p: DownloadProgressParams) => void, token: vscode.CancellationToken): Promise<DownloadReferenceResult> {
  const c = client;
  if (!c || !started) throw new Error('the config language server is not running');
  await started;
  const sub = c.onNotification(DOWNLOAD_PROGRESS_NOTIFICATION, (raw: unknown) => {
    const p = DOWNLOAD_PROGRESS.check(raw, DOWNLOAD_PROGRESS_NOTIFICATION);
    if (p.ok && p.value.repo === params.repo && p.value.revision === params.revision) onProgress(p.value);
  });
  try {
    const r = DOWNLOAD_REFERENCE_RESULT.check(await c.sendRequest(DOWNLOAD_REFERENCE_REQUEST, params, token), DOWNLOAD_REFERENCE_REQUEST);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  } finally {
    sub.dispose();
  }
}
