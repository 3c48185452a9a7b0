/**
 * `analyze` requests: attention statistics of a model directory on a data file, each in its own
 * process (like training, the forward passes block an event loop), one at a time, a few queued.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { BackendName } from '../engine/backend.js';
import { encodeHeatmapFrame, replyTo, type ClientMessageOf } from '../protocol/messages.js';
import { RequestError, type Peer } from './peer.js';
import type { WorkerEntry } from './runManager.js';
import type { ServerRoots } from './serverFiles.js';
import { parseFromWorker, type ToWorker } from './workerProtocol.js';

interface Job {
  peer: Peer;
  requestId: string;
  msg: ClientMessageOf<'analyze'>;
  modelDir: string;
  data: string;
}

const MAX_QUEUED = 4;

export class AnalyzeJobs {
  private readonly queue: Job[] = [];
  private active: { job: Job; child: ChildProcess } | undefined;
  private counter = 0;
  private closing = false;

  constructor(
    private readonly opts: { cwd: string; roots: ServerRoots; backend: BackendName; worker: WorkerEntry; log(line: string): void },
  ) {}

  /** Queues an analysis of a model folder and a data file, both inside the server's roots. */
  async submit(peer: Peer, msg: ClientMessageOf<'analyze'>): Promise<void> {
    if (this.closing) throw new RequestError('conflict', 'the server is shutting down');
    const modelDir = await this.opts.roots.modelDir(msg.modelDir, this.opts.cwd, 'analyze.modelDir');
    const data = await this.opts.roots.dataFile(msg.data, this.opts.cwd, 'analyze.data');
    if (this.closing) throw new RequestError('conflict', 'the server is shutting down');
    if (this.queue.length >= MAX_QUEUED) throw new RequestError('conflict', `${MAX_QUEUED} analyses are already waiting; try again later`);
    const requestId = msg.id !== undefined ? String(msg.id) : `analysis-${++this.counter}`;
    this.queue.push({ peer, requestId, msg, modelDir, data });
    this.pump();
  }

  private pump(): void {
    if (this.active || this.closing) return;
    const job = this.queue.shift();
    if (!job) return;
    if (!job.peer.open) return this.pump();
    const env = { ...process.env };
    delete env.INHERITUNE_TOKEN;
    const { worker } = this.opts;
    const child = fork(worker.modulePath, worker.args, { execArgv: worker.execArgv, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
    this.active = { job, child };
    let answered = false;
    const fail = (error: string) => {
      if (answered) return;
      answered = true;
      job.peer.send({ type: 'error', code: 'analyzeFailed', message: error, ...(job.msg.id !== undefined ? { inReplyTo: job.msg.id } : {}) });
    };
    child.stderr?.setEncoding('utf8').on('data', (d: string) => this.opts.log(`analyze ${job.requestId}: ${d.trimEnd()}`));
    child.stdout?.resume();
    child.on('message', (value: unknown) => {
      const parsed = parseFromWorker(value);
      if (!parsed.ok) return fail(`analyze: the analysis process sent a message outside the protocol: ${parsed.error}`);
      const m = parsed.message;
      if (m.type === 'analysisFailed') fail(`analyze ${job.modelDir}: ${m.error}`);
      if (m.type !== 'analysis' || answered) return;
      answered = true;
      const frames = m.heatmaps.map((h) =>
        encodeHeatmapFrame(
          { requestId: job.requestId, layer: h.layer, head: h.head, rows: h.size, cols: h.size, seqLen: h.seqLen, max: h.max },
          new Uint8Array(Buffer.from(h.cells, 'base64')),
        ),
      );
      job.peer.send(replyTo(job.msg, { type: 'analysisResult', requestId: job.requestId, modelDir: job.modelDir, backend: m.backend, result: m.result, heatmaps: frames.length }));
      for (const f of frames) job.peer.sendBinary(f);
    });
    child.on('error', (e) => fail(`analyze: cannot start the analysis process: ${e.message}`));
    child.on('exit', (code, signal) => {
      fail(`analyze: the analysis process ended without a result (${signal ?? `exit code ${code}`})`);
      this.active = undefined;
      this.pump();
    });
    const job$: ToWorker = { type: 'analyze', modelDir: job.modelDir, data: job.data, options: job.msg.options ?? {}, backend: this.opts.backend };
    child.send(job$);
  }

  shutdown(): void {
    this.closing = true;
    this.queue.length = 0;
    this.active?.child.kill('SIGKILL');
  }
}
