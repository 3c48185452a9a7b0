/** Key paths into a run config: their text, their spec in the schema, and the path under a text offset. */
import { isMap, isScalar, isSeq, parseDocument, type Node as YNode } from 'yaml';
import { CONFIG_SCHEMA, type FieldSpec } from './configSchema.js';
import { nestingTooDeepAt } from './yamlNesting.js';

/** `train.betas[1]` for ['train', 'betas', '1']. */
export function pathText(path: readonly string[]): string {
  let out = '';
  for (const p of path) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/** The spec at a key path (list indices select the item spec), or undefined for unknown keys. */
export function specAt(path: readonly string[]): FieldSpec | undefined {
  let spec: FieldSpec | undefined = CONFIG_SCHEMA;
  for (const p of path) {
    if (!spec) return undefined;
    if (spec.type === 'list') spec = /^\d+$/.test(p) ? spec.items : undefined;
    else if (spec.type === 'object') spec = Object.hasOwn(spec.fields ?? {}, p) ? spec.fields?.[p] : undefined;
    else return undefined;
  }
  return spec;
}

/**
 * The key path under `offset` in `text` (for hover): the key or value there. Undefined when the
 * offset is on no key or value (e.g. a comment or blank line).
 */
export function pathAtOffset(text: string, offset: number): { path: string[]; part: 'key' | 'value' } | undefined {
  if (nestingTooDeepAt(text) !== undefined) return undefined;
  const doc = parseDocument(text, { prettyErrors: false });
  const inside = (n: unknown): n is YNode => isNodeWithRange(n) && n.range[0] <= offset && offset <= n.range[1];
  let node: unknown = doc.contents;
  const path: string[] = [];
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => inside(p.key) || inside(p.value));
      if (!pair || !isScalar(pair.key)) return path.length ? { path, part: 'value' } : undefined;
      path.push(String(pair.key.value));
      if (inside(pair.key)) return { path, part: 'key' };
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((it) => inside(it));
      if (i < 0) return { path, part: 'value' };
      path.push(String(i));
      node = node.items[i];
    } else {
      return path.length ? { path, part: 'value' } : undefined;
    }
  }
}

function isNodeWithRange(n: unknown): n is YNode & { range: [number, number, number] } {
  return typeof n === 'object' && n !== null && Array.isArray((n as { range?: unknown }).range);
}
