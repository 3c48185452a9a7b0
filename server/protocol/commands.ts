/**
 * The extension's commands: every id, defined once (package.json's contributes.commands must list
 * exactly these: test/unit/commands.test.ts), and the schema of the arguments of those invoked with
 * JSON arguments from another process (the language server's code lenses and hover links) or by
 * id (a status bar item, a dashboard). The extension checks them where each command receives them.
 * Pure: no node or vscode imports (the language server and the extension both import it).
 */
import { ANALYZE_OPTIONS } from './messages.js';
import { int, obj, optional, str, type Infer } from './schema.js';

export const COMMANDS = {
  startRun: 'inheritune.startRun',
  stopRun: 'inheritune.stopRun',
  openDashboard: 'inheritune.openDashboard',
  analyzeReference: 'inheritune.analyzeReference',
  newConfig: 'inheritune.newConfig',
  showServerLog: 'inheritune.showServerLog',
  restartServer: 'inheritune.restartServer',
  resumeRun: 'inheritune.resumeRun',
  openModelFolder: 'inheritune.openModelFolder',
  deleteRun: 'inheritune.deleteRun',
  refreshRuns: 'inheritune.refreshRuns',
  downloadReference: 'inheritune.downloadReference',
} as const;
export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];

const path = str({ min: 1, max: 4096 });

/** inheritune.startRun from a code lens: run the config in the document `uri` (saved or not: the extension reads the buffer). */
export const START_RUN_ARGS = obj({
  /** The config document's URI (a string, as in LSP). */
  uri: str({ min: 1, max: 4096 }),
});
export type StartRunArgs = Infer<typeof START_RUN_ARGS>;

/**
 * inheritune.analyzeReference from a code lens: analyse the reference's attention. The fields are
 * the training server's `analyze` message's (modelDir, data, options); absent when the config does
 * not say (yet).
 */
export const ANALYZE_REFERENCE_ARGS = obj({
  uri: str({ min: 1, max: 4096 }),
  /** Absolute reference model directory. */
  modelDir: optional(path),
  /** Absolute validation data file (data.val). */
  data: optional(path),
  options: ANALYZE_OPTIONS,
});
export type AnalyzeReferenceArgs = Infer<typeof ANALYZE_REFERENCE_ARGS>;

/**
 * inheritune.openDashboard from a code lens or hover link: open a stored run in the dashboard
 * beside the editor. `model` (e.g. "reference") asks for that model's attention heatmap;
 * `step`/`seq` name the attention event.
 */
export const OPEN_DASHBOARD_ARGS = obj({
  runId: str({ min: 1, max: 200 }),
  /** Absolute run folder (<out_dir>/<runId>). */
  runDir: path,
  /** The config document the link or lens came from. */
  uri: optional(str({ min: 1, max: 4096 })),
  model: optional(str({ min: 1, max: 200 })),
  step: optional(int({ min: 0 })),
  seq: optional(int({ min: 1 })),
});
export type OpenDashboardArgs = Infer<typeof OPEN_DASHBOARD_ARGS>;

/** inheritune.downloadReference from a code lens: download reference.hub into the Hugging Face cache. */
export const DOWNLOAD_REFERENCE_ARGS = obj({
  repo: str({ min: 1, max: 200 }),
  revision: str({ min: 1, max: 256 }),
  /** The config document the lens came from. */
  uri: optional(str({ min: 1, max: 4096 })),
});
export type DownloadReferenceArgs = Infer<typeof DOWNLOAD_REFERENCE_ARGS>;

/** A run command (stop, resume, delete, open its model folder or dashboard) invoked by id, from the status bar or a dashboard. */
export const RUN_ID_ARG = str({ min: 1, max: 200 });
