/** Option parsers shared by the commands: each rejects bad values with a message naming the option. */
import { InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES } from '../engine/backend.js';

export function int(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${value}" is not an integer.`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `${n} is less than ${min}.` : `${n} is not within ${min}..${max}.`);
    }
    return n;
  };
}

export function float(min: number, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number.`);
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is not within ${min}..${max}.`);
    return n;
  };
}

export function backendOption(): Option {
  return new Option('--backend <name>', 'tfjs backend').choices(BACKEND_NAMES).default('auto');
}

export function tokenizerOption(): Option {
  return new Option('--tokenizer <name>', "tokenizer for text files (.txt, .jsonl); model: the model folder's tokenizer.json").choices(['gpt2', 'bytes', 'model']).default('gpt2');
}

export function windowsOption(defaultMode: 'contiguous' | 'random'): Option {
  return new Option('--windows <mode>', 'how windows are taken from the data').choices(['contiguous', 'random']).default(defaultMode);
}
