/**
 * What the language server knows about Hugging Face Hub models: the local HF cache's models (whole
 * or partly downloaded, for completion and the sidebar's Choose) and, for a reference.hub the cache
 * lacks, the Hub's answer (its commit and download size for the "Download" lens, or why it cannot
 * be fetched for the diagnostic). The Hub is asked once per model and revision for a while, never
 * with HF_HUB_OFFLINE set; nothing here throws.
 */
import type { HubRemoteFact } from '../engine/configFacts.js';
import { describeHubModel, formatHubRef, listCachedModels, type CachedModelEntry, type HubRef } from '../engine/hub/index.js';
import { hubCacheDir, hubOffline } from '../engine/hub/env.js';

/** How long the Hub's answer is trusted: a branch may move, an outage may end. */
const REMOTE_OK_MS = 10 * 60_000;
const REMOTE_ERROR_MS = 30_000;
/** A Hub that does not answer within this long counts as unreachable. */
const REMOTE_TIMEOUT_MS = 30_000;
/** The cache listing is read again after this long (a download by another tool shows up). */
const LIST_MS = 2_000;

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export class HubFacts {
  private list: { at: number; cacheDir: string; models: CachedModelEntry[] } | undefined;
  private listing: Promise<CachedModelEntry[]> | undefined;
  private readonly remotes = new Map<string, { at: number; fact: HubRemoteFact }>();
  private readonly asking = new Map<string, Promise<boolean>>();

  /** The models in the HF cache (whole and partial), newest first; read again when older than a moment. */
  async cachedModels(): Promise<CachedModelEntry[]> {
    const cacheDir = hubCacheDir();
    const l = this.list;
    if (l && l.cacheDir === cacheDir && Date.now() - l.at < LIST_MS) return l.models;
    this.listing ??= listCachedModels(cacheDir, { incomplete: true })
      .catch(() => [])
      .then((models) => {
        this.list = { at: Date.now(), cacheDir, models };
        return models;
      })
      .finally(() => {
        this.listing = undefined;
      });
    return this.listing;
  }

  /** The Hub's answer about `ref`, when it was asked. */
  remote(ref: HubRef): HubRemoteFact | undefined {
    return this.remotes.get(formatHubRef(ref))?.fact;
  }

  /** Asks the Hub about `ref` unless a recent answer stands or HF_HUB_OFFLINE is set; true when the answer changed. */
  ensureRemote(ref: HubRef, signal?: AbortSignal): Promise<boolean> {
    const key = formatHubRef(ref);
    const old = this.remotes.get(key);
    if (hubOffline()) {
      this.remotes.delete(key);
      return Promise.resolve(old !== undefined);
    }
    if (old && Date.now() - old.at < (old.fact.ok ? REMOTE_OK_MS : REMOTE_ERROR_MS)) return Promise.resolve(false);
    const running = this.asking.get(key);
    if (running) return running;
    const ask = describeHubModel(ref, signal ?? AbortSignal.timeout(REMOTE_TIMEOUT_MS))
      .then((d): HubRemoteFact => ({ ok: true, commit: d.commit, downloadBytes: d.downloadBytes }))
      .catch((e: unknown): HubRemoteFact => ({ ok: false, error: asError(e) }))
      .then((fact) => {
        this.remotes.set(key, { at: Date.now(), fact });
        return !old || JSON.stringify(old.fact, errorText) !== JSON.stringify(fact, errorText);
      })
      .finally(() => this.asking.delete(key));
    this.asking.set(key, ask);
    return ask;
  }

  /** Forgets every answer and the cache listing (after a download, or on the client's refresh). */
  clear(): void {
    this.list = undefined;
    this.remotes.clear();
  }
}

function errorText(_k: string, v: unknown): unknown {
  return v instanceof Error ? v.message : v;
}
