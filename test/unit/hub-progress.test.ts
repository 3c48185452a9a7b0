/** Download progress: speed over a sliding window (a fake clock), and the line the CLI prints. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Throughput } from '../../server/engine/hub/throughput.js';
import { describeDownload } from '../../server/protocol/format.js';

test('speed is bytes over the last 5 s; 0 before any time has passed', () => {
  let now = 0;
  const t = new Throughput(() => now);
  assert.equal(t.sample(0), 0);
  now = 1000;
  assert.equal(t.sample(1 << 20), 1 << 20);
  now = 2000;
  assert.equal(t.sample(3 << 20), 1.5 * (1 << 20));
  // After a stall the old samples leave the window: the speed is what the last seconds did.
  now = 20_000;
  t.sample(3 << 20);
  now = 21_000;
  assert.equal(t.sample(4 << 20), 1 << 20);
});

test('the progress line: bytes done and total, speed, ETA and the file', () => {
  assert.equal(
    describeDownload({ file: 'model-00001-of-00002.safetensors', bytes: 1.5 * 2 ** 30, totalBytes: 6.4 * 2 ** 30, bytesPerSecond: 48 * 2 ** 20, etaSeconds: 110.4 }),
    '1.5 GiB / 6.4 GiB, 48 MiB/s, ETA 1m50s, model-00001-of-00002.safetensors',
  );
  assert.equal(describeDownload({ file: 'config.json', bytes: 0, totalBytes: 700, bytesPerSecond: 0 }), '0 bytes / 700 bytes, 0 bytes/s, ETA --, config.json');
});
