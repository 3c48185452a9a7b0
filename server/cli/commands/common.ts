/** Steps shared by commands: choosing the backend, loading a model, loading token data, checking outputs. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendName } from '../../engine/backend.js';
import { InherituneError } from '../../engine/errors.js';
import { loadModelDir } from '../../engine/hfCheckpoint.js';
import { nativeStatus } from '../../engine/native/index.js';
import type { LanguageModel } from '../../engine/modelFamily.js';
import { createModel } from '../../engine/models.js';
import { foreignFolderError, inspectOutputFolder } from '../../engine/outputFolder.js';
import { loadTokens, loadTokenWindows, type LoadTokensOptions, type TokenWindows } from '../../engine/data/tokens.js';
import type { TokenizerName } from '../../engine/data/tokenizer.js';

/** Activates `--backend` (for `auto`, one that can hold `needBytes`) and says which on stderr. */
export async function useBackend(name: BackendName, quiet: boolean, needBytes?: number): Promise<string> {
  const notice = (line: string) => {
    if (!quiet) process.stderr.write(`note: ${line}\n`);
  };
  const backend = await initBackend(name, { needBytes, onNotice: notice }).catch((e: unknown) => {
    throw e instanceof InherituneError && e.source === 'backend' ? new InherituneError('--backend', e.detail) : e;
  });
  if (!quiet) process.stderr.write(`backend: ${backend}${kernelsNote(backend)}\n`);
  return backend;
}

/** Which kernels the wasm and cpu backends run: the native ones (BLAS, threads) or tfjs's own. */
function kernelsNote(backend: string): string {
  if (backend !== 'wasm' && backend !== 'cpu') return '';
  const s = nativeStatus();
  if (!s.active) return ", tfjs's own kernels";
  return `, native kernels (${(s.blas ?? '').replace(/^OpenBLAS OpenBLAS/, 'OpenBLAS')}, ${s.threads} thread(s))`;
}

/**
 * Fails early (before hours of work) when the output folder `target`, given by `option`, cannot be
 * written: it exists and is not a folder, its nearest existing ancestor is a file or read-only, it
 * holds files inheritune did not write (never replaced), or it holds an earlier result of ours and
 * `replace` does not say that may go (`replace.allowed` false: the message suggests `replace.hint`).
 */
export function checkOutputFolder(option: string, target: string, replace: { allowed: boolean; hint: string }): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(target);
  } catch {
    // Does not exist yet: the usual case.
  }
  if (st && !st.isDirectory()) throw new InherituneError(option, `${target} exists and is not a folder`);
  if (st) {
    const contents = inspectOutputFolder(target);
    if (contents.kind === 'foreign') throw foreignFolderError(option, target, contents.entries);
    if ((contents.kind === 'model' || contents.kind === 'checkpoint') && !replace.allowed) {
      throw new InherituneError(option, `${target} already holds a ${contents.kind === 'model' ? 'model' : 'training checkpoint'} written by inheritune; ${replace.hint}`);
    }
  }
  // The nearest existing ancestor must be a writable folder (the rest is created when writing).
  let dir = path.dirname(path.resolve(target));
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  if (!fs.statSync(dir).isDirectory()) throw new InherituneError(option, `cannot write ${target}: ${dir} is a file, not a folder`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new InherituneError(option, `cannot write ${target}: the folder ${dir} is not writable`);
  }
}

/** A window longer than the model's context is an error naming the option that asked for it. */
export function checkContext(option: string, length: number, positions: number, model: string): void {
  if (length > positions) {
    throw new InherituneError(option, `${length} exceeds the ${positions} positions of the model (${model}); use at most ${positions}`);
  }
}

export function loadModel(dir: string): LanguageModel {
  const { config, tensors } = loadModelDir(dir);
  return createModel(config, tensors);
}

function dataOptions(tokenizer: TokenizerName, vocabSize: number, minTokens: number, modelDir: string | undefined): LoadTokensOptions {
  if (tokenizer === 'model' && modelDir === undefined) {
    throw new InherituneError('--tokenizer', 'model reads the tokenizer.json of the model directory, and this command has none (use --from, or gpt2/bytes)');
  }
  return { tokenizer, vocabSize, minTokens, modelDir, onNote: (note) => process.stderr.write(`note: ${note}\n`) };
}

/** Tokens of a data file; text is tokenized with `tokenizer` (`model`: the tokenizer.json of modelDir). */
export async function loadData(
  file: string,
  tokenizer: TokenizerName,
  vocabSize: number,
  minTokens: number,
  modelDir?: string,
): Promise<ArrayLike<number>> {
  return loadTokens(file, dataOptions(tokenizer, vocabSize, minTokens, modelDir));
}

/**
 * Only the windows `startsOf(nTokens)` of `len` tokens (and their targets) of a data file: a .bin
 * file is read by window, so evaluating a few windows of a huge file takes little memory.
 */
export async function loadDataWindows(
  file: string,
  tokenizer: TokenizerName,
  vocabSize: number,
  minTokens: number,
  len: number,
  startsOf: (nTokens: number) => number[],
  modelDir: string,
): Promise<TokenWindows> {
  return loadTokenWindows(file, dataOptions(tokenizer, vocabSize, minTokens, modelDir), len, startsOf);
}
