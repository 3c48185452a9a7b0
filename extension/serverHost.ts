/**
 * The process the extension starts for the training server: `inheritune serve` (dist/cli.js, loaded
 * into this process) plus a guard that stops it when the extension host that started it is gone
 * (crashed or killed without deactivating): the parent changes, and the server gets SIGTERM, which
 * makes it checkpoint its runs and exit. Bundled as dist/serverHost.js; arguments are serve's.
 */
import * as path from 'node:path';

const cli = path.join(__dirname, 'cli.js');
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    process.stderr.write(`the extension host (pid ${parent}) is gone: stopping the training server\n`);
    process.kill(process.pid, 'SIGTERM');
  }
}, 1000).unref();
// serve reads its command line (and forks its training processes with argv[1]) as if started as cli.js.
process.argv = [process.argv[0], cli, ...process.argv.slice(2)];
// eslint-disable-next-line @typescript-eslint/no-require-imports
require(cli);
