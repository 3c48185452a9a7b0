/**
 * Minimal edits of a run config's YAML text for the sidebar: a value that is written in the file is
 * replaced in place (its exact source range: comments, quoting of other values, flow or block style
 * all stay byte for byte); a missing key is added with the `yaml` Document API, which keeps comments.
 * Pure (no `vscode`): the caller applies the edit through a WorkspaceEdit.
 */
import { isMap, isScalar, isSeq, parseDocument, Scalar } from 'yaml';

export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** The edit that sets `path` to `value` in `text`, or null when the file already says so. */
export function setYamlValue(text: string, path: readonly string[], value: string | number | boolean): TextEdit | null {
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0) throw new Error(`the file is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const node = doc.getIn(path, true);
  if (isScalar(node) && node.range) {
    if (node.value === value) return null;
    const [start, end] = node.range;
    return { start, end, text: scalarText(value, node) };
  }
  if (node !== undefined && !isScalar(node)) throw new Error(`${path.join('.')} is not a single value in the file`);
  if (node === undefined) {
    const inserted = insertIntoMapping(text, doc.getIn(path.slice(0, -1), true) ?? (path.length === 1 ? doc.contents : undefined), path[path.length - 1], value);
    if (inserted) return inserted;
  }
  // Not written yet (or written empty): add it, creating missing parents as block mappings.
  for (let i = 1; i < path.length; i++) {
    const parent = doc.getIn(path.slice(0, i), true);
    if (parent !== undefined && parent !== null && !isMap(parent) && !(isScalar(parent) && parent.value === null)) {
      throw new Error(`${path.slice(0, i).join('.')} is not a mapping in the file`);
    }
  }
  doc.setIn(path, value);
  const out = doc.toString();
  return out === text ? null : { start: 0, end: text.length, text: out };
}

/**
 * `key: value` added to a mapping the file already writes, as text: before the `}` of a flow
 * mapping, or on a line after a block mapping's last entry at its indentation; the rest of the file
 * stays byte for byte. Undefined when the mapping is empty or has no source range (the caller then
 * rewrites through the Document API).
 */
function insertIntoMapping(text: string, parent: unknown, key: string, value: string | number | boolean): TextEdit | null | undefined {
  if (!isMap(parent) || !parent.range || parent.items.length === 0) return undefined;
  const entry = `${key}: ${scalarText(value, new Scalar(value))}`;
  if (parent.flow) {
    const close = text.lastIndexOf('}', parent.range[1] - 1);
    if (close < parent.range[0]) return undefined;
    let at = close;
    while (at > parent.range[0] && /\s/.test(text[at - 1])) at--;
    return { start: at, end: at, text: `, ${entry}` };
  }
  const first = parent.items[0].key;
  const last = parent.items[parent.items.length - 1];
  const lastNode = (isScalar(last.value) || isMap(last.value) || isSeq(last.value) ? last.value : last.key) as { range?: [number, number, number] } | null;
  if (!isScalar(first) || !first.range || !lastNode?.range) return undefined;
  const indent = first.range[0] - (text.lastIndexOf('\n', first.range[0] - 1) + 1);
  const lineEnd = text.indexOf('\n', Math.max(parent.range[0], lastNode.range[1] - 1));
  const at = lineEnd < 0 ? text.length : lineEnd;
  return { start: at, end: at, text: `\n${' '.repeat(indent)}${entry}` };
}

/**
 * The edit that makes the mapping at `path` exactly `entries` (keys not listed are removed, e.g.
 * reference.path when reference.hub is chosen), or null when it already is. Only the mapping's own
 * characters change: a flow mapping (or an empty value) becomes `{ k: v, ... }`, a block mapping
 * gets one line per entry at its indentation; the rest of the file stays byte for byte.
 */
export function replaceYamlMapping(text: string, path: readonly string[], entries: Record<string, string>): TextEdit | null {
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0) throw new Error(`the file is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const node = doc.getIn(path, true);
  const pairs = Object.entries(entries).map(([k, v]) => `${k}: ${scalarText(v, new Scalar(v))}`);
  if (isMap(node)) {
    const now = node.toJSON() as Record<string, unknown>;
    if (Object.keys(now).length === pairs.length && Object.entries(entries).every(([k, v]) => now[k] === v)) return null;
    if (node.range && node.flow) return { start: node.range[0], end: node.range[1], text: `{ ${pairs.join(', ')} }` };
    const first = node.items[0]?.key;
    const last = node.items[node.items.length - 1];
    const lastNode = (last && (isScalar(last.value) || isMap(last.value) || isSeq(last.value)) ? last.value : last?.key) as { range?: [number, number, number] } | null | undefined;
    if (isScalar(first) && first.range && lastNode?.range) {
      const indent = first.range[0] - (text.lastIndexOf('\n', first.range[0] - 1) + 1);
      return { start: first.range[0], end: lastNode.range[1], text: pairs.join(`\n${' '.repeat(indent)}`) };
    }
  } else if (isScalar(node) && node.value === null && node.range) {
    return { start: node.range[0], end: node.range[1], text: `${text[node.range[0] - 1] === ':' ? ' ' : ''}{ ${pairs.join(', ')} }` };
  } else if (node !== undefined && node !== null) {
    throw new Error(`${path.join('.')} is not a mapping in the file`);
  }
  // Not written: added through the Document API, which keeps the comments.
  doc.setIn(path, doc.createNode(entries));
  const out = doc.toString();
  return out === text ? null : { start: 0, end: text.length, text: out };
}

function scalarText(value: string | number | boolean, old: Scalar): string {
  if (typeof value !== 'string') return String(value);
  const plain = /^[A-Za-z0-9_./][A-Za-z0-9_./ -]*$/.test(value) && !/^(true|false|null|yes|no|on|off|~)$/i.test(value) && !/^[\d.+-]+$/.test(value) && !value.endsWith(' ');
  if (old.type === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
  if (old.type === Scalar.QUOTE_DOUBLE || !plain) return JSON.stringify(value);
  return value;
}

/** Applies one edit to a string (for tests and previews). */
export function applyEdit(text: string, edit: TextEdit | null): string {
  return edit ? text.slice(0, edit.start) + edit.text + text.slice(edit.end) : text;
}
