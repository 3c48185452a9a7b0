/**
 * The config language server (server/language, bundled as dist/language.js) over node IPC: checks,
 * hover, completion and code lenses in `*.inheritune.yaml` files (language id `inheritune`).
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

export const LANGUAGE_ID = 'inheritune';
const SERVER_MODULE = 'dist/language.js';

let client: LanguageClient | undefined;

export function startLanguageClient(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): void {
  const module = context.asAbsolutePath(SERVER_MODULE);
  if (!fs.existsSync(module)) {
    log.warn(`${SERVER_MODULE} is not built: no config checks in the editor`);
    return;
  }
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6011'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: LANGUAGE_ID },
      { scheme: 'untitled', language: LANGUAGE_ID },
    ],
    outputChannel: log,
    markdown: { isTrusted: { enabledCommands: ['inheritune.openDashboard', 'inheritune.startRun', 'inheritune.analyzeReference'] } },
    initializationOptions: {},
  };
  client = new LanguageClient('inheritune', 'Inheritune Config', serverOptions, clientOptions);
  client.start().catch((e: unknown) => log.error(`language server: ${e instanceof Error ? e.message : String(e)}`));
}

export async function stopLanguageClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) await c.stop(2000).catch(() => undefined);
}
