/**
 * Completion of reference.hub and reference.revision from the local Hugging Face cache: each model
 * with its shape line, size on disk and whether it is whole; each revision the cache holds of the
 * model written. Also the one-line description of a cached model the sidebar's Choose shows.
 */
import { CompletionItemKind, MarkupKind, type CompletionItem } from 'vscode-languageserver/node';
import type { CachedModelEntry } from '../engine/hub/index.js';
import { modelShapeOf, parameterCountOf } from '../engine/modelFamily.js';
import { FAMILY_NAMES, describeModelShape, formatBytes, formatParams } from '../protocol/format.js';
import type { CompletionContext } from './completion.js';
import { peekModelConfig } from './facts.js';
import type { CachedHubModel } from './protocol.js';

/** A cached model as the sidebar and completion describe it. */
export function describeCachedModel(m: CachedModelEntry): CachedHubModel {
  const c = peekModelConfig(m.dir);
  return {
    repo: m.repo,
    commit: m.commit,
    refs: m.refs,
    dir: m.dir,
    bytes: m.bytes,
    missing: m.missing,
    ...(c ? { shape: `${FAMILY_NAMES[c.family]} · ${c.nLayer} layers · width ${c.nEmbd} · ${formatParams(parameterCountOf(c))} params`, shapeLine: describeModelShape(modelShapeOf(c)) } : {}),
  };
}

/** `whole` or what a partial snapshot lacks. */
export function completeness(m: Pick<CachedHubModel, 'missing'>): string {
  return m.missing.length === 0 ? 'complete' : `incomplete (lacks ${m.missing.join(', ')})`;
}

type ValueContext = Extract<CompletionContext, { kind: 'value' }>;

/** reference.hub: one item per cached model (its newest snapshot first; whole before partial). */
export function hubItems(ctx: ValueContext, models: readonly CachedHubModel[]): CompletionItem[] {
  const sp = ctx.needsSpace ? ' ' : '';
  const byRepo = new Map<string, CachedHubModel>();
  for (const m of models) {
    const seen = byRepo.get(m.repo);
    if (!seen || (seen.missing.length > 0 && m.missing.length === 0)) byRepo.set(m.repo, m);
  }
  return [...byRepo.values()].map((m, i) => ({
    label: m.repo,
    kind: CompletionItemKind.Module,
    insertText: sp + m.repo,
    filterText: m.repo,
    detail: `${m.shape ?? 'no readable config.json'} · ${formatBytes(m.bytes)} on disk · ${m.missing.length === 0 ? 'complete' : 'incomplete'}`,
    documentation: {
      kind: MarkupKind.Markdown,
      value: [
        `**${m.repo}** in the Hugging Face cache, commit \`${m.commit}\`${m.refs.length > 0 ? ` (${m.refs.join(', ')})` : ''}`,
        m.shapeLine ?? 'config.json cannot be read',
        `${formatBytes(m.bytes)} on disk; ${completeness(m)}`,
      ].join('\n\n'),
    },
    sortText: `${m.missing.length === 0 ? '0' : '1'}${String(i).padStart(4, '0')}`,
  }));
}

/** reference.revision: the branches, tags and commits the cache holds of `repo`. */
export function revisionItems(ctx: ValueContext, repo: string, models: readonly CachedHubModel[]): CompletionItem[] {
  const sp = ctx.needsSpace ? ' ' : '';
  const items: CompletionItem[] = [];
  for (const m of models.filter((x) => x.repo === repo)) {
    for (const label of [...m.refs, m.commit]) {
      items.push({
        label,
        kind: CompletionItemKind.Value,
        insertText: sp + label,
        filterText: label,
        detail: `${label === m.commit ? 'commit' : `→ ${m.commit.slice(0, 12)}`} · ${completeness(m)}`,
        sortText: `${label === m.commit ? '1' : '0'}${label}`,
      });
    }
  }
  return items;
}
