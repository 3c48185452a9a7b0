/**
 * The Hugging Face environment, read as huggingface_hub (Python) reads it, so both tools share one
 * cache and one login: HF_ENDPOINT, HF_TOKEN / HF_TOKEN_PATH / $HF_HOME/token, HF_HUB_OFFLINE, and
 * the cache folder (HF_HUB_CACHE, else $HF_HOME/hub; @huggingface/hub resolves it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getHFHubCachePath } from '@huggingface/hub';
import { InherituneError } from '../errors.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubEnv {
  /** Base URL of the Hub, without a trailing slash. */
  endpoint: string;
  token?: string;
  /** Where the token came from (`HF_TOKEN` or the token file), for messages; never the token. */
  tokenSource?: string;
  offline: boolean;
  /** The hub cache folder (models--ORG--NAME/{refs,blobs,snapshots} inside). */
  cacheDir: string;
}

const TRUE_WORDS = ['1', 'true', 'yes', 'on'];

function hfHome(): string {
  const env = process.env;
  return env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface');
}

function endpoint(): string {
  const raw = process.env.HF_ENDPOINT?.trim();
  if (!raw) return DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InherituneError('HF_ENDPOINT', `${JSON.stringify(raw)} is not a URL (e.g. ${DEFAULT_ENDPOINT})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InherituneError('HF_ENDPOINT', `${JSON.stringify(raw)} must be an http(s) URL`);
  return raw.replace(/\/+$/, '');
}

function token(): { token?: string; tokenSource?: string } {
  const env = process.env;
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] as const) {
    const v = env[name]?.trim();
    if (v) return { token: v, tokenSource: name };
  }
  const file = env.HF_TOKEN_PATH || path.join(hfHome(), 'token');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {}; // No login: public models only.
  }
  const v = text.split(/\r?\n/)[0].trim();
  return v ? { token: v, tokenSource: file } : {};
}

/** @huggingface/hub refuses other tokens with a TypeError: say which setting holds the bad one. */
function checkedToken(t: { token?: string; tokenSource?: string }): { token?: string; tokenSource?: string } {
  if (t.token !== undefined && !t.token.startsWith('hf_')) throw new InherituneError(t.tokenSource ?? 'HF_TOKEN', 'is not a Hugging Face access token (they start with "hf_"; see https://huggingface.co/settings/tokens)');
  return t;
}

/** HF_HUB_OFFLINE: use the cache only. */
export function hubOffline(): boolean {
  return TRUE_WORDS.includes((process.env.HF_HUB_OFFLINE ?? '').trim().toLowerCase());
}

/** The hub cache folder (what the cache-only lookups need: no endpoint, no token). */
export function hubCacheDir(): string {
  return getHFHubCachePath();
}

/** The environment now (read on each call: tests and long-lived servers change it); a bad HF_ENDPOINT or token is an error naming it. */
export function hubEnv(): HubEnv {
  return { endpoint: endpoint(), ...checkedToken(token()), offline: hubOffline(), cacheDir: hubCacheDir() };
}
