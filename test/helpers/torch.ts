/** The Python the torch-engine tests use, and whether it has torch (the tests skip, saying why, when not). */
import * as fs from 'node:fs';
import { probePython } from '../../server/engine/train/torchProbe.js';

/** INHERITUNE_TEST_PYTHON, else Debian's /usr/bin/python3 (python3-torch), else python3 on PATH. */
export const TEST_PYTHON = process.env.INHERITUNE_TEST_PYTHON ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** Undefined when TEST_PYTHON has torch; otherwise the reason to skip. */
export async function torchMissing(): Promise<string | undefined> {
  try {
    const p = await probePython(TEST_PYTHON);
    return p.torch === null ? `${TEST_PYTHON} has no torch (apt-get install python3-torch, or set INHERITUNE_TEST_PYTHON)` : undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
