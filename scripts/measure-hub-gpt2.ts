// Times examples/hub/gpt2-6.inheritune.yaml end to end without the internet: a GPT-2-small-shaped
// model (12 layers, d 768, 12 heads, vocabulary 50257, 1024 positions; random weights) is served as
// openai-community/gpt2 by the mock Hub (test/helpers/mockHub.ts) on 127.0.0.1, into a temporary
// Hugging Face cache, and `inheritune run` runs the config as shipped. Prints the time of the
// download and of each phase of the run. Usage: node --import tsx scripts/measure-hub-gpt2.ts
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveGPT2 } from '../server/engine/hfCheckpoint.js';
import { resolveReference } from '../server/engine/hub/index.js';
import { initWeightsOf } from '../server/engine/modelFamily.js';
import type { GPT2Config } from '../server/engine/gpt2Config.js';
import type { RunEvent } from '../server/protocol/events.js';
import { filesOfDir, MockHub } from '../test/helpers/mockHub.js';

const REPO = path.resolve(__dirname, '..');
const GPT2_SMALL: GPT2Config = { family: 'gpt2', vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: 3072, layerNormEpsilon: 1e-5, bias: true, scaleAttnByInverseLayerIdx: false, tieWordEmbeddings: true };

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-gpt2hub-'));
  const hub = new MockHub();
  try {
    saveGPT2(path.join(tmp, 'gpt2'), GPT2_SMALL, initWeightsOf(GPT2_SMALL, 1));
    await hub.start();
    hub.addRepo('openai-community/gpt2', filesOfDir(path.join(tmp, 'gpt2')));
    const config = path.join(tmp, 'gpt2-6.inheritune.yaml');
    const shipped = fs.readFileSync(path.join(REPO, 'examples', 'hub', 'gpt2-6.inheritune.yaml'), 'utf8');
    fs.writeFileSync(config, shipped.replace(/\.\.\/data\//g, `${path.join(REPO, 'examples', 'data')}/`).replace('../.inheritune/runs', path.join(tmp, 'runs')));
    const hf = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_HUB_CACHE: path.join(tmp, 'hf', 'hub'), HF_TOKEN: '', HF_HUB_OFFLINE: '' };
    Object.assign(process.env, hf);
    // The download alone (what `inheritune run` does first), then the run, which finds it in the cache.
    const d0 = Date.now();
    const model = await resolveReference({ repo: 'openai-community/gpt2', revision: 'main' });
    const downloadMs = Date.now() - d0;
    const env = { ...process.env, ...hf };
    const t0 = Date.now();
    const events: { at: number; e: RunEvent }[] = [];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(REPO, 'bin', 'inheritune.js'), 'run', config, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let buf = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          events.push({ at: Date.now(), e: JSON.parse(buf.slice(0, nl)) as RunEvent });
          buf = buf.slice(nl + 1);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => process.stderr.write(d));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`inheritune run exited with ${code}`))));
    });
    const end = Date.now();
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`download into the cache from the mock on 127.0.0.1 (${model.downloadedBytes} bytes, verified): ${s(downloadMs)}`);
    console.log(`run start (process, config check against the reference, backend): ${s((events[0]?.at ?? end) - t0)}`);
    const phases = events.filter((x) => x.e.type === 'phase');
    phases.forEach((p, i) => {
      const next = phases[i + 1]?.at ?? end;
      if (p.e.type === 'phase') console.log(`${p.e.phase} ${p.e.model?.label ?? ''}: ${s(next - p.at)}`);
    });
    const done = events.find((x) => x.e.type === 'runFinished');
    if (done?.e.type === 'runFinished') console.log(`reference val loss ${done.e.summary.reference.valLoss.toFixed(3)}, 6-layer ${done.e.summary.final.valLoss.toFixed(3)}, backend ${done.e.summary.backend}`);
    console.log(`run total: ${s(end - t0)}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    await hub.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

void main();
