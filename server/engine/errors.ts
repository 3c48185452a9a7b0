/**
 * The one error type the engine throws for bad input. `source` names the file, field or message at
 * fault so every front end (CLI, server, language server) can show it without parsing the text.
 */
export class InherituneError extends Error {
  constructor(
    readonly source: string,
    readonly detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'InherituneError';
  }
}
