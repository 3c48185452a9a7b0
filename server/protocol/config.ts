/**
 * The run config (`*.inheritune.yaml`), one module per job; importers take it from here:
 * - configVocabulary.ts: the value lists of its enum keys (shared with the engine)
 * - configSchema.ts: the schema table, the ONE definition of every key (validation, defaults, docs)
 * - configTypes.ts: RunConfig and the reference's shape as the code uses them
 * - parseRunConfig.ts (+ configCrossChecks.ts): text to checked config and issues (configIssue.ts)
 * - configPaths.ts, configText.ts, configJsonSchema.ts: key paths, hover/completion text, JSON Schema
 * - resolveLayers.ts: the defaults that depend on the reference
 *
 * Pure: no tfjs, no node built-ins (the webview imports it). Checks against files (the reference
 * model, the data) live in server/engine/configCheck.ts.
 */
export * from './configVocabulary.js';
export * from './configSchema.js';
export * from './configTypes.js';
export * from './configIssue.js';
export * from './configPaths.js';
export * from './configText.js';
export * from './configJsonSchema.js';
export * from './editDistance.js';
export * from './parseRunConfig.js';
export * from './resolveLayers.js';
