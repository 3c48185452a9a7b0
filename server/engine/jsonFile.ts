/** Reading a JSON file with errors that name the file and say what it was meant to be. */
import * as fs from 'node:fs';
import { InherituneError } from './errors.js';

export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InherituneError(file, code === 'ENOENT' ? `missing ${what}` : `cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InherituneError(file, `${what} is not valid JSON (${(e as Error).message})`);
  }
}
