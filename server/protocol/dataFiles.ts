/** The data file types a run reads (server/engine/data/tokens.ts), named once for the engine, the language server and the extension's pickers. */
export const TOKEN_FILE_EXTENSIONS = ['.bin', '.npy', '.txt', '.jsonl'] as const;
