/**
 * Whether this machine has a WebGPU adapter for the webgpu tests. Where none exists (no Mesa >= 25,
 * no GPU driver, the optional packages missing) they skip with the reason, unless
 * INHERITUNE_REQUIRE_WEBGPU=1 (set by .ci/run, which installs Mesa's lavapipe): then they fail.
 */
import { findAdapter } from '../../server/engine/webgpu/device.js';

let cached: Promise<string | undefined> | undefined;

/** Why the webgpu tests cannot run here, or undefined when they can. */
export function webgpuUnavailable(): Promise<string | undefined> {
  cached ??= findAdapter().then((a) => {
    if (!('unavailable' in a)) return undefined;
    if (process.env.INHERITUNE_REQUIRE_WEBGPU === '1') throw new Error(`INHERITUNE_REQUIRE_WEBGPU=1 but webgpu is unavailable: ${a.unavailable}`);
    return `webgpu unavailable: ${a.unavailable}`;
  });
  return cached;
}
