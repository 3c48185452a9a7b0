/** A guard against YAML nested deep enough to exhaust the call stack of the YAML composer. */
import { Lexer, Parser } from 'yaml';

/**
 * Deepest nesting of YAML collections a run config may have. The schema needs 3; the YAML composer
 * recurses once per level, so a document nested thousands deep would exhaust the call stack.
 */
export const MAX_YAML_DEPTH = 64;

/**
 * Offset where `text` first nests collections deeper than MAX_YAML_DEPTH, or undefined. Runs yaml's
 * own lexer and CST parser, which keep an explicit stack (no recursion), one token at a time.
 */
export function nestingTooDeepAt(text: string): number | undefined {
  const parser = new Parser();
  for (const lexeme of new Lexer().lex(text)) {
    for (const _token of parser.next(lexeme)) {
      // Finished documents: composed by parseDocument once the depth is known to be sane.
    }
    // The parser's stack holds the document, every open collection and the scalar being read.
    if (parser.stack.length - 1 > MAX_YAML_DEPTH) return parser.offset;
  }
  return undefined;
}
