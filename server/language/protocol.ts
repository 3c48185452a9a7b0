/**
 * What the VS Code extension needs to know about the config language server: how to start it, the
 * language it serves, the commands its code lenses and hover links invoke, and its custom requests and notifications with the schemas of their answers. Pure: no
 * node or vscode imports, so the extension imports it directly.
 *
 * Starting it (vscode-languageclient):
 *   const module = context.asAbsolutePath(LANGUAGE_SERVER_MODULE);
 *   new LanguageClient('inheritune', 'Inheritune Config', {
 *     run: { module, transport: TransportKind.ipc },
 *     debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6011'] } },
 *   }, {
 *     documentSelector: [{ scheme: 'file', language: CONFIG_LANGUAGE_ID }, { scheme: 'untitled', language: CONFIG_LANGUAGE_ID }],
 *     markdown: { isTrusted: { enabledCommands: [LENS_COMMANDS.openDashboard] } }, // hover's dashboard link
 *     initializationOptions: {} satisfies LanguageServerOptions,
 *   });
 * The server also accepts --stdio (and the other vscode-languageserver transports).
 */
import { COMMANDS } from '../protocol/commands.js';
import { MODEL_FAMILIES, type ListedIssue, type ReferenceInfo } from '../protocol/config.js';
import { arrayOf, bool, int, nullable, num, obj, oneOf, optional, str, type Infer, type Same } from '../protocol/schema.js';

/** The language id of run configs (package.json contributes.languages; the server itself accepts any id it is sent). */
export const CONFIG_LANGUAGE_ID = 'inheritune';
/** File name patterns of run configs. */
export const CONFIG_FILE_PATTERNS = ['*.inheritune.yaml', '*.inheritune.yml'] as const;
/** The server bundle, relative to the extension root (built by scripts/build.mjs). */
export const LANGUAGE_SERVER_MODULE = 'dist/language.js';
/** The generated JSON Schema of run configs (package.json contributes.yamlValidation), relative to the extension root. */
export const CONFIG_JSON_SCHEMA_FILE = 'dist/inheritune-config.schema.json';

/** Command ids the server puts in code lenses and hover links (their arguments: protocol/commands.ts); the extension implements them. */
export const LENS_COMMANDS = {
  startRun: COMMANDS.startRun,
  analyzeReference: COMMANDS.analyzeReference,
  openDashboard: COMMANDS.openDashboard,
  downloadReference: COMMANDS.downloadReference,
} as const;

/** A `command:` URI as used in hover markdown: the arguments JSON-encoded as an array, then URI-encoded. */
export function commandUri(command: string, ...args: unknown[]): string {
  return `command:${command}?${encodeURIComponent(JSON.stringify(args))}`;
}

/** initializationOptions the server understands (all optional). */
export interface LanguageServerOptions {
  /** Milliseconds between the last edit and the file checks (model, data, run store). Default 200. */
  fileCheckDelayMs?: number;
  /** Token cache folder for text data (default: the engine's, $INHERITUNE_CACHE_DIR or ~/.cache/inheritune/tokens). */
  tokenCacheDir?: string;
  /** Text data files larger than this many bytes are not tokenized for their length check. Default 4 MiB. */
  maxTextBytes?: number;
  /** The Python interpreter of runtime.engine torch when runtime.python is not written (the inheritune.pythonPath setting; default python3). */
  pythonPath?: string;
}

// ---------------------------------------------------------------------------------------------
// Custom requests and notifications

/**
 * Request `inheritune/configInfo`: what the server knows about a config (after its file checks): an
 * open document, or a config file on disk that is not open. The extension's sidebar shows it.
 */
export const CONFIG_INFO_REQUEST = 'inheritune/configInfo';
const runStores = arrayOf(str({ min: 1 }), { max: 256 });
export const CONFIG_INFO_PARAMS = obj({
  uri: str({ min: 1 }),
  /** Run stores (absolute folders) searched for the reference's analysis besides runtime.out_dir, e.g. the extension's inheritune.outDir. */
  runStores: optional(runStores),
});
export type ConfigInfoParams = Infer<typeof CONFIG_INFO_PARAMS>;

/**
 * Request `inheritune/referenceInfo`: what the server knows about a model folder that no config names
 * yet (New Run Config): its description and its newest stored analysis in `runStores`.
 */
export const REFERENCE_INFO_REQUEST = 'inheritune/referenceInfo';
export const REFERENCE_INFO_PARAMS = obj({
  /** Absolute model folder. */
  dir: str({ min: 1 }),
  runStores,
});
export type ReferenceInfoParams = Infer<typeof REFERENCE_INFO_PARAMS>;

const layerAnalysis = obj({ layer: int({ min: 0 }), maxRank: num({ min: 0 }), avgMass: num({ min: 0 }), lazy: bool() });
const referenceAnalysisSchema = obj({
  runId: str({ min: 1 }),
  runDir: str({ min: 1 }),
  step: int({ min: 0 }),
  seq: int({ min: 1 }),
  tau: num(),
  eta: num(),
  layers: arrayOf(layerAnalysis, { max: 100_000 }),
  /** Lazy layers numbered from 1 (as in the paper and the CLI). */
  lazyLayers: arrayOf(int({ min: 1 }), { max: 100_000 }),
});
export type ReferenceAnalysis = Infer<typeof referenceAnalysisSchema>;

const count = int({ min: 1 });
const referenceInfoSchema = obj({
  path: str({ min: 1 }),
  family: oneOf(MODEL_FAMILIES),
  layers: count,
  nEmbd: count,
  nHead: count,
  nKvHead: count,
  nInner: count,
  vocabSize: count,
  nPositions: count,
  params: int({ min: 0 }),
  weightBytes: int({ min: 0 }),
  weightDtype: str({ min: 1 }),
  hasTokenizer: bool(),
});
const referenceInfoMatches: Same<Infer<typeof referenceInfoSchema>, ReferenceInfo> = true;
void referenceInfoMatches;

const lastRunSchema = obj({ runId: str({ min: 1 }), runDir: str({ min: 1 }), state: oneOf(['finished', 'failed', 'incomplete'] as const) });
export type LastRunInfo = Infer<typeof lastRunSchema>;

const referenceFields = {
  /** Present when the reference could be read. */
  reference: optional(referenceInfoSchema),
  /** Why the reference could not be read (the diagnostic's message). */
  referenceError: optional(str({ max: 65_536 })),
  /** Newest stored attention analysis of that reference (label "reference"). */
  referenceAnalysis: optional(referenceAnalysisSchema),
};

const issueSchema = obj({ line: int({ min: 1 }), col: int({ min: 1 }), severity: oneOf(['error', 'warning'] as const), message: str({ max: 65_536 }) });
const issueSchemaMatches: Same<Infer<typeof issueSchema>, ListedIssue> = true;
void issueSchemaMatches;
/** A model in the local Hugging Face cache (request inheritune/hubModels, completion of reference.hub). */
const cachedHubModelSchema = obj({
  repo: str({ min: 1, max: 200 }),
  commit: str({ min: 1, max: 64 }),
  /** Branches and tags pointing at the commit. */
  refs: arrayOf(str({ min: 1, max: 256 }), { max: 1000 }),
  /** The snapshot folder. */
  dir: str({ min: 1 }),
  /** Bytes on disk. */
  bytes: int({ min: 0 }),
  /** Files the snapshot lacks to be a whole model ([]: complete). */
  missing: arrayOf(str({ min: 1, max: 512 }), { max: 100_000 }),
  /** Family, layers, width and parameters; absent when config.json cannot be read. */
  shape: optional(str({ max: 1000 })),
  /** The full shape line (heads, MLP, vocabulary, context). */
  shapeLine: optional(str({ max: 1000 })),
});
export type CachedHubModel = Infer<typeof cachedHubModelSchema>;

/** Request `inheritune/hubModels` (no params): the models in the local Hugging Face cache, newest first (the sidebar's Choose). */
export const HUB_MODELS_REQUEST = 'inheritune/hubModels';
export const HUB_MODELS_RESULT = arrayOf(cachedHubModelSchema, { max: 100_000 });

const configInfoSchema = obj({
  /** Absolute path of the config (for untitled documents: where relative paths resolve). */
  configPath: str({ min: 1 }),
  ...referenceFields,
  /** reference.hub as written, with the commit the cache (or the Hub) gives it. */
  hub: optional(obj({ repo: str({ min: 1 }), revision: str({ min: 1 }), commit: optional(str({ min: 1 })), cached: bool(), downloadBytes: optional(int({ min: 0 })) })),
  /** What will train: runtime.engine, the devices, and (torch) what the probe of its interpreter found. */
  engine: optional(
    obj({
      name: str({ min: 1, max: 64 }),
      /** runtime.devices (torch) or runtime.backend (tfjs). */
      devices: str({ min: 1, max: 256 }),
      detail: str({ max: 2000 }),
      /** The runtime.devices the torch engine can use here, from the probe of its interpreter (written, inheritune.pythonPath, or python3); [] when it has no torch. */
      torchDevices: arrayOf(str({ min: 1, max: 64 }), { max: 1024 }),
    }),
  ),
  /** Newest run of this config in runtime.out_dir. */
  lastRun: optional(lastRunSchema),
  /** Absolute runtime.out_dir. */
  outDir: optional(str({ min: 1 })),
  /** Errors and warnings now shown for the document. */
  errors: int({ min: 0 }),
  warnings: int({ min: 0 }),
  /** Those errors and warnings, in file order, as the editor shows them (line and col 1-based). */
  issues: arrayOf(issueSchema, { max: 10_000 }),
});
export type ConfigInfo = Infer<typeof configInfoSchema>;

/** The answers as they arrive over the connection, checked (null: the document or folder is unknown). */
export const CONFIG_INFO_RESULT = nullable(configInfoSchema);
export const REFERENCE_INFO_RESULT = obj(referenceFields);
export type ReferenceInfoResult = Infer<typeof REFERENCE_INFO_RESULT>;

/**
 * Request `inheritune/downloadReference`: download a Hub model into the Hugging Face cache (the
 * Download lens). Cancelled with $/cancelRequest (what was fetched stays; the next download
 * continues it); its progress comes as `inheritune/downloadProgress` notifications.
 */
export const DOWNLOAD_REFERENCE_REQUEST = 'inheritune/downloadReference';
const hubRepo = str({ min: 1, max: 200 });
const hubRevision = str({ min: 1, max: 256 });
export const DOWNLOAD_REFERENCE_PARAMS = obj({ repo: hubRepo, revision: hubRevision });
export type DownloadReferenceParams = Infer<typeof DOWNLOAD_REFERENCE_PARAMS>;
export const DOWNLOAD_REFERENCE_RESULT = obj({ commit: str({ min: 1, max: 64 }), dir: str({ min: 1 }), downloadedBytes: int({ min: 0 }) });
export type DownloadReferenceResult = Infer<typeof DOWNLOAD_REFERENCE_RESULT>;
/** Notification `inheritune/downloadProgress` (server -> client), a few a second during a download. */
export const DOWNLOAD_PROGRESS_NOTIFICATION = 'inheritune/downloadProgress';
export const DOWNLOAD_PROGRESS = obj({
  repo: hubRepo,
  revision: hubRevision,
  file: str({ max: 4096 }),
  bytes: int({ min: 0 }),
  totalBytes: int({ min: 0 }),
  bytesPerSecond: num({ min: 0 }),
  etaSeconds: optional(num({ min: 0 })),
});
export type DownloadProgressParams = Infer<typeof DOWNLOAD_PROGRESS>;

/** Notification `inheritune/refresh` (client -> server): forget cached model, data and run-store facts and check every open config again (e.g. after a run finished). */
export const REFRESH_NOTIFICATION = 'inheritune/refresh';
