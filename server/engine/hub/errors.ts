/** Hub failures as one clear line each: what to do about a gated repo, a missing one, a missing revision. */
import { HubApiError } from '@huggingface/hub';
import { InherituneError } from '../errors.js';
import { hubEnv } from './env.js';

/** The error for an HTTP status from the Hub about `subject` (a model id or one of its files). */
export function hubHttpError(status: number, subject: string, what: 'model' | 'file' | 'revision' | 'repo'): InherituneError {
  const { token, tokenSource } = hubEnv();
  if (status === 401 || status === 403) {
    const repo = subject.split('/').slice(0, 2).join('/');
    const how = token
      ? `the token from ${tokenSource} has no access to it: accept the licence on the model page (https://huggingface.co/${repo}) with that account, or use a token that has`
      : 'it is gated or private: accept the licence on the model page (https://huggingface.co/' + repo + '), then set HF_TOKEN to a token of that account (https://huggingface.co/settings/tokens) or log in with `hf auth login`';
    return new InherituneError(subject, `access denied (HTTP ${status}): ${how}`);
  }
  if (status === 404) {
    const hint =
      what === 'revision'
        ? 'no such model or revision on the Hub (check the id and the branch, tag or commit; a private repo also needs HF_TOKEN)'
        : what === 'file'
          ? 'not found on the Hub'
          : 'no such model on the Hub (check the id; a private repo also needs HF_TOKEN)';
    return new InherituneError(subject, hint);
  }
  return new InherituneError(subject, `the Hub answered HTTP ${status}`);
}

/** The Hub could not be reached at all (no HTTP answer): a cached copy may do instead. */
export class HubUnreachableError extends InherituneError {}

/** Any error from a @huggingface/hub call or fetch, as an InherituneError about `subject`. */
export function asHubError(e: unknown, subject: string, what: 'model' | 'revision' | 'repo', endpoint: string): InherituneError {
  if (e instanceof InherituneError) return e;
  if (e instanceof HubApiError) {
    if ([401, 403, 404].includes(e.statusCode)) return hubHttpError(e.statusCode, subject, what);
    return new InherituneError(subject, `the Hub answered HTTP ${e.statusCode}: ${e.message.split('. URL:')[0]}`);
  }
  if (e instanceof Error && e.name === 'AbortError') return new InherituneError(subject, 'cancelled');
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : e instanceof Error ? e.message : String(e);
  return new HubUnreachableError(subject, `cannot reach the Hub at ${endpoint} (${cause}); set HF_HUB_OFFLINE=1 to use the cache only`);
}
