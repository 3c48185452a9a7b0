/** The extension's settings (contributes.configuration in package.json), read in one place. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { schemaDefault } from '../server/protocol/config.js';

export function settings() {
  const c = vscode.workspace.getConfiguration('inheritune');
  const outDir = c.get<string>('outDir', '') ?? '';
  return {
    backend: c.get<string>('backend', 'auto') ?? 'auto',
    /** Run store folder the runs view lists (and the server's --runs-dir); relative to `base`; by default the config's runtime.out_dir default. */
    outDir: (base: string) => path.resolve(base, outDir || schemaDefault(['runtime', 'out_dir'])),
    outDirSet: outDir !== '',
    nodePath: (c.get<string>('nodePath', '') ?? '').trim(),
    /** Python of the torch engine when a config sets no runtime.python ('': python3). */
    pythonPath: (c.get<string>('pythonPath', '') ?? '').trim(),
    serverHost: (c.get<string>('server.host', '127.0.0.1') ?? '127.0.0.1').trim() || '127.0.0.1',
    serverPort: c.get<number>('server.port', 0) ?? 0,
    serverToken: (c.get<string>('server.token', '') ?? '').trim(),
    /** Extra folders the server the extension starts may read (`serve --root`), besides the workspace folders. */
    serverRoots: (c.get<string[]>('server.roots', []) ?? []).filter((r) => typeof r === 'string' && r.trim() !== '').map((r) => r.trim()),
    startTimeoutMs: Math.max(5, c.get<number>('server.startTimeout', 60) ?? 60) * 1000,
  };
}
