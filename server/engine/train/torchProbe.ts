/**
 * The Python side of runtime.engine: torch, checked before any training: one probe of the interpreter
 * (a small Python snippet: Python and torch versions, CUDA devices, bf16 support) and the checks of the
 * runtime settings against it, each problem one error naming the setting. Exported for the CLI, the
 * torch engine and (later) the language server's diagnostics.
 */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import { InherituneError } from '../errors.js';
import type { EngineSettings } from './engine.js';

export interface PythonProbe {
  /** The interpreter as configured (runtime.python). */
  python: string;
  pythonVersion: string;
  /** torch.__version__, or null when torch cannot be imported. */
  torch: string | null;
  /** Why `import torch` failed. */
  torchError?: string;
  /** CUDA devices torch sees (0 without CUDA). */
  cudaDevices: number;
  /** Every CUDA device supports bfloat16 (torch.cuda.is_bf16_supported). */
  cudaBf16: boolean;
  /** Name and total memory (bytes) of each CUDA device, cuda:0 first. */
  cudaDeviceInfo: { name: string; memoryBytes: number }[];
}

/** The oldest torch the worker runs on (torch.distributed.run, autocast on CPU, frombuffer). */
export const MIN_TORCH: [number, number] = [1, 13];

const SNIPPET = `
import json, sys
out = {"pythonVersion": sys.version.split()[0], "torch": None, "cudaDevices": 0, "cudaBf16": False, "cudaDeviceInfo": []}
try:
    import torch
    out["torch"] = torch.__version__
    if torch.cuda.is_available():
        out["cudaDevices"] = torch.cuda.device_count()
        out["cudaBf16"] = bool(torch.cuda.is_bf16_supported())
        for i in range(out["cudaDevices"]):
            p = torch.cuda.get_device_properties(i)
            out["cudaDeviceInfo"].append({"name": p.name, "memoryBytes": int(p.total_memory)})
except Exception as e:
    out["torchError"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
`;

/** Runs the probe snippet with `python`; an interpreter that cannot run is an error naming runtime.python. */
export function probePython(python: string, timeoutMs = 120_000): Promise<PythonProbe> {
  return new Promise((resolve, reject) => {
    execFile(python, ['-c', SNIPPET], { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'was not found' : `did not run the probe (${err.message.split('\n')[0]}${stderr ? `: ${stderr.trim().split('\n').at(-1)}` : ''})`;
        reject(new InherituneError('runtime.python', `"${python}" ${why}; the torch engine needs Python 3 with torch >= ${MIN_TORCH.join('.')} (set runtime.python to its path)`));
        return;
      }
      try {
        const v = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Omit<PythonProbe, 'python'>;
        resolve({ python, ...v });
      } catch {
        reject(new InherituneError('runtime.python', `"${python}" printed ${JSON.stringify(stdout.slice(0, 80))} instead of the probe's answer; is it a Python 3 interpreter?`));
      }
    });
  });
}

/** Major and minor of a torch version string ("1.13.0a0", "2.4.1+cu121"), or undefined. */
export function torchVersion(v: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Throws the first problem of the torch settings against what the probe found, naming the setting. */
export function checkTorchSettings(s: EngineSettings, probe: PythonProbe, cpuCores = os.cpus().length): void {
  const py = `"${probe.python}" (Python ${probe.pythonVersion})`;
  if (probe.torch === null) throw new InherituneError('runtime.python', `${py} has no torch (${probe.torchError ?? 'import failed'}); install torch >= ${MIN_TORCH.join('.')} there or point runtime.python at an interpreter that has it`);
  const v = torchVersion(probe.torch);
  if (!v || v[0] < MIN_TORCH[0] || (v[0] === MIN_TORCH[0] && v[1] < MIN_TORCH[1])) {
    throw new InherituneError('runtime.python', `${py} has torch ${probe.torch}; the torch engine needs torch >= ${MIN_TORCH.join('.')}`);
  }
  const cuda = /^cuda(?::(\d+))?$/.exec(s.devices);
  if (cuda) {
    if (probe.cudaDevices === 0) throw new InherituneError('runtime.devices', `${s.devices} was asked for, but torch ${probe.torch} of ${py} sees no CUDA device`);
    const index = cuda[1] === undefined ? undefined : Number(cuda[1]);
    if (index !== undefined && index >= probe.cudaDevices) {
      throw new InherituneError('runtime.devices', `${s.devices} does not exist: torch sees ${probe.cudaDevices} CUDA device(s), cuda:0..cuda:${probe.cudaDevices - 1}`);
    }
    if (s.precision === 'bf16' && !probe.cudaBf16) throw new InherituneError('runtime.precision', `bf16 was asked for, but the CUDA device(s) do not support bfloat16; use fp32`);
    const available = index === undefined ? probe.cudaDevices : 1;
    if (s.nproc > available) throw new InherituneError('runtime.nproc', `${s.nproc} processes, but ${s.devices} gives ${available} CUDA device(s): one process per device`);
  } else if (s.devices !== 'cpu') {
    throw new InherituneError('runtime.devices', `must be cpu, cuda or cuda:N, got ${JSON.stringify(s.devices)}`);
  } else if (s.nproc > cpuCores) {
    throw new InherituneError('runtime.nproc', `${s.nproc} processes on the CPU, but this machine has ${cpuCores} cores`);
  }
  if (s.nnodes > 1 && s.rdzvEndpoint === '') throw new InherituneError('runtime.rdzv_endpoint', `nnodes is ${s.nnodes}: give the host:port where the nodes meet`);
  if (s.nodeRank >= s.nnodes) throw new InherituneError('runtime.node_rank', `${s.nodeRank} must be below nnodes (${s.nnodes})`);
}

/** Probes runtime.python and checks the torch settings: every problem an error naming its setting. */
export async function assertTorchRuntime(s: EngineSettings): Promise<PythonProbe> {
  const probe = await probePython(s.python);
  checkTorchSettings(s, probe);
  return probe;
}
