/**
 * Completion: where the cursor is (a key, a value, a list item; block or flow style, in a file that
 * is half typed and often not valid YAML), and what to offer there: keys with their docs and
 * defaults, enum values, model folders for reference.path, data files, layer counts with the
 * derived model's parameter count.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompletionItemKind, InsertTextFormat, InsertTextMode, MarkupKind, type CompletionItem } from 'vscode-languageserver/node';
import { TOKEN_FILE_EXTENSIONS } from '../engine/data/tokens.js';
import { modelShapeOf, parameterCountOf, withLayers, type ModelConfig } from '../engine/modelFamily.js';
import { defaultText, keyCompletions, pathText, specAt, valueCompletions, type FieldSpec } from '../protocol/config.js';
import { peekModelConfig } from './facts.js';
import { describeModelShape, FAMILY_NAMES, formatBytes, formatCount, formatParams } from '../protocol/format.js';

export type CompletionContext =
  | {
      kind: 'key';
      /** The mapping the key goes in. */
      path: string[];
      /** Keys already written in that mapping. */
      present: string[];
      /** Offset where the word being typed starts (the range replaced ends at the cursor). */
      start: number;
      flow: boolean;
    }
  | {
      kind: 'value';
      /** The key whose value is typed (list items: ending with '0'). */
      path: string[];
      /** The text typed so far (quotes excluded). */
      prefix: string;
      start: number;
      /** The cursor is right after the colon: a value needs a space before it. */
      needsSpace: boolean;
      /** Items already in the list (for list items). */
      siblings: string[];
      /** A block-style value right after `key:` (not inside flow brackets, not a `- ` item). */
      block: boolean;
    };

const KEY_LINE = /^(\s*)(?:-\s+)?([^\s:#'"{}[\],][^:#]*?)\s*:(?:\s+(.*))?$/;
const indentOf = (line: string) => /^\s*/.exec(line)?.[0].length ?? 0;
const isBlank = (line: string) => /^\s*(#.*)?$/.test(line);

/** The keys that open the mappings enclosing line `row` at `indent`, outermost first; undefined when no mapping does. */
function parentPath(lines: string[], row: number, indent: number, listItem: boolean): string[] | undefined {
  const out: string[] = [];
  let cur = indent;
  // A list's `- ` items may sit at the indentation of their key.
  let sameIndentOk = listItem;
  for (let i = row - 1; i >= 0; i--) {
    if (cur === 0 && !sameIndentOk) break;
    const line = lines[i];
    if (isBlank(line)) continue;
    const li = indentOf(line);
    if (sameIndentOk ? li > cur : li >= cur) continue;
    const m = KEY_LINE.exec(line);
    if (m && (!m[3] || m[3].startsWith('#'))) {
      out.unshift(m[2]);
      cur = li;
      sameIndentOk = false;
      continue;
    }
    if (sameIndentOk && li === cur && /^\s*-(\s|$)/.test(line)) continue; // an earlier item
    return undefined;
  }
  return out;
}

/** Keys (or list items) written at `indent` in the block that holds line `row`. */
function siblingsAt(lines: string[], row: number, indent: number, items: boolean): string[] {
  const out: string[] = [];
  const take = (i: number): boolean => {
    const line = lines[i];
    if (isBlank(line)) return true;
    const li = indentOf(line);
    if (li < indent) return false;
    if (li > indent) return true;
    if (items) {
      const m = /^\s*-\s+([^\s#,]+)/.exec(line);
      if (!m) return false;
      out.push(m[1]);
    } else {
      const m = KEY_LINE.exec(line);
      if (m) out.push(m[2]);
    }
    return true;
  };
  for (let i = row - 1; i >= 0 && take(i); i--);
  for (let i = row + 1; i < lines.length && take(i); i++);
  return out;
}

interface Frame {
  type: 'map' | 'seq';
  /** Map: the key whose value is being written (after its colon). */
  key?: string;
  afterColon: boolean;
  keys: string[];
  items: string[];
  token: string;
}

/** Reads a flow collection up to the cursor: where in it the cursor is. */
function flowContext(rest: string): { path: string[]; frame: Frame } | undefined {
  const stack: Frame[] = [];
  const newFrame = (type: Frame['type']): Frame => ({ type, afterColon: false, keys: [], items: [], token: '' });
  let quote: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    const top = stack[stack.length - 1];
    if (quote) {
      if (c === quote) quote = undefined;
      if (top) top.token += c;
      continue;
    }
    if (c === '{' || c === '[') {
      stack.push(newFrame(c === '{' ? 'map' : 'seq'));
    } else if (c === '}' || c === ']') {
      stack.pop();
      const parent = stack[stack.length - 1];
      if (parent) parent.token = '\u0000'; // a collection, not a scalar
    } else if (!top) {
      if (!/\s/.test(c)) return undefined; // text after the collection closed
    } else if (c === ',') {
      if (top.type === 'seq' && top.token.trim() !== '') top.items.push(top.token.trim());
      top.afterColon = false;
      top.key = undefined;
      top.token = '';
    } else if (c === ':' && top.type === 'map' && !top.afterColon && (i + 1 === rest.length || /\s/.test(rest[i + 1]))) {
      top.key = top.token.trim();
      top.keys.push(top.key);
      top.afterColon = true;
      top.token = '';
    } else if (c === '#' && /\s/.test(rest[i - 1] ?? ' ')) {
      return undefined; // a comment
    } else {
      if ((c === '"' || c === "'") && top.token.trim() === '') quote = c;
      top.token += c;
    }
  }
  if (stack.length === 0) return undefined;
  const path: string[] = [];
  stack.forEach((f, i) => {
    if (i === stack.length - 1) return;
    path.push(f.type === 'seq' ? '0' : (f.key ?? ''));
  });
  return { path, frame: stack[stack.length - 1] };
}

/** Where completion at `offset` of `text` is, or undefined (a comment, or no place for a key or value). */
export function completionContext(text: string, offset: number): CompletionContext | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const row = text.slice(0, lineStart).split('\n').length - 1;
  const indent = indentOf(before);
  if (/(^|\s)#/.test(before) && !/["']/.test(before)) return undefined;

  // A list item: `  - at|`
  const item = /^(\s*)-(\s+)(["']?)([^\s#,[\]{}"']*)$/.exec(before) ?? (/^\s*-$/.test(before) ? ['', '', '', '', ''] : null);
  if (item) {
    const parent = parentPath(lines, row, indent, true);
    if (!parent || parent.length === 0) return undefined;
    return {
      kind: 'value',
      path: [...parent, '0'],
      prefix: item[4],
      start: offset - item[4].length,
      needsSpace: item[2] === '',
      siblings: siblingsAt(lines, row, indent, true),
      block: false,
    };
  }

  // A key being typed on its own line: `  tok|`
  const key = /^(\s*)([A-Za-z0-9_.-]*)$/.exec(before);
  if (key) {
    const parent = parentPath(lines, row, indent, false);
    if (!parent) return undefined;
    return { kind: 'key', path: parent, present: siblingsAt(lines, row, indent, false), start: offset - key[2].length, flow: false };
  }

  // After `key:` on this line: a value, or a flow collection.
  const kv = /^(\s*)(?:-\s+)?([A-Za-z0-9_.-]+)\s*:(.*)$/.exec(before);
  if (!kv) return undefined;
  const parent = parentPath(lines, row, indent, false);
  if (!parent) return undefined;
  const keyPath = [...parent, kv[2]];
  const rest = kv[3];
  const trimmed = rest.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const f = flowContext(trimmed);
    if (!f) return undefined;
    const { frame } = f;
    const at = [...keyPath, ...f.path];
    const token = frame.token.replace(/^\s+/, '');
    if (token.includes('\u0000')) return undefined;
    const word = token.replace(/^["']/, '');
    if (frame.type === 'map' && !frame.afterColon) {
      return { kind: 'key', path: at, present: frame.keys, start: offset - word.length, flow: true };
    }
    const needsSpace = frame.type === 'map' && frame.token === '' && before.endsWith(':');
    const path = frame.type === 'seq' ? [...at, '0'] : [...at, frame.key ?? ''];
    return { kind: 'value', path, prefix: word, start: offset - word.length, needsSpace, siblings: frame.items, block: false };
  }
  const word = trimmed.replace(/^["']/, '');
  return { kind: 'value', path: keyPath, prefix: word, start: offset - word.length, needsSpace: rest === '', siblings: [], block: true };
}

// ---------------------------------------------------------------------------------------------
// Items

export interface CompletionEnv {
  /** Absolute path of the config file (relative paths resolve against its folder). */
  file: string;
  /** Folders to search for models and data besides the config's own (workspace roots). */
  roots: string[];
  snippets: boolean;
  /** The reference's config, when it could be read. */
  reference?: ModelConfig;
  /** target.layers as written (or the default), for grow.max_layers. */
  layers?: number;
}

function escapeSnippet(s: string): string {
  return s.replace(/[$}\\]/g, (c) => `\\${c}`);
}

function docFor(s: FieldSpec, name: string): string {
  const d = defaultText(s);
  return `**${name}**${s.required ? ' (required)' : d !== undefined ? ` — default \`${d}\`` : ''}\n\n${s.doc}`;
}

/** Key items for the mapping at ctx.path. */
export function keyItems(ctx: Extract<CompletionContext, { kind: 'key' }>, env: CompletionEnv): CompletionItem[] {
  return keyCompletions(ctx.path, ctx.present).map((k, i) => {
    const spec = specAt([...ctx.path, k.key]) as FieldSpec;
    let insert = k.insertText;
    let format: InsertTextFormat = InsertTextFormat.PlainText;
    if (ctx.flow && spec.type === 'object') insert = `${k.key}: { }`;
    if (env.snippets) {
      format = InsertTextFormat.Snippet;
      const d = spec.default !== undefined ? (Array.isArray(spec.default) ? `[${spec.default.join(', ')}]` : String(spec.default)) : undefined;
      if (spec.type === 'object') insert = ctx.flow ? `${k.key}: { $0 }` : `${k.key}:\n  $0`;
      else if (spec.type === 'enum' && spec.values) {
        const vals = [...spec.values].sort((a, b) => (a === spec.default ? -1 : b === spec.default ? 1 : 0));
        insert = `${k.key}: \${1|${vals.join(',')}|}`;
      } else if (spec.type === 'bool') insert = `${k.key}: \${1|${spec.default === false ? 'false,true' : 'true,false'}|}`;
      else insert = `${k.key}: \${1:${escapeSnippet(d ?? '')}}`;
    }
    return {
      label: k.key,
      kind: spec.type === 'object' ? CompletionItemKind.Module : CompletionItemKind.Property,
      detail: k.detail,
      documentation: { kind: MarkupKind.Markdown, value: docFor(spec, pathText([...ctx.path, k.key])) },
      insertText: insert,
      insertTextFormat: format,
      insertTextMode: InsertTextMode.adjustIndentation,
      // Required keys first, then the schema's order.
      sortText: `${k.required ? '0' : '1'}${String(i).padStart(3, '0')}`,
      filterText: k.key,
      // Mappings: ask for their keys right away; paths: for the folders and files (enums and
      // booleans offer their values as snippet choices).
      command: spec.type === 'object' || spec.type === 'path' ? { title: 'Suggest', command: 'editor.action.triggerSuggest' } : undefined,
    };
  });
}

/** Value items for ctx.path. */
export function valueItems(ctx: Extract<CompletionContext, { kind: 'value' }>, env: CompletionEnv): CompletionItem[] {
  const p = ctx.path;
  const spec = specAt(p);
  if (!spec) return [];
  const sp = ctx.needsSpace ? ' ' : '';
  const name = pathText(p.filter((x) => !/^\d+$/.test(x)));
  const items: CompletionItem[] = [];
  const push = (label: string, extra: Partial<CompletionItem> = {}) =>
    items.push({ label, insertText: sp + label, filterText: label, kind: CompletionItemKind.Value, ...extra });

  for (const [i, v] of valueCompletions(p).entries()) {
    if (ctx.siblings.includes(v.value)) continue;
    const isDefault = spec.default === v.value;
    push(v.value, {
      kind: CompletionItemKind.EnumMember,
      detail: v.doc,
      documentation: v.doc ? { kind: MarkupKind.Markdown, value: `\`${v.value}\`: ${v.doc}` } : undefined,
      sortText: `${isDefault ? '0' : '1'}${String(i).padStart(3, '0')}`,
    });
  }
  const key = p.join('.');
  if (key === 'reference.path') items.push(...pathItems(ctx, env, 'model'));
  else if (key === 'data.train' || key === 'data.val') items.push(...pathItems(ctx, env, 'data'));
  else if ((key === 'target.layers' || key === 'grow.max_layers') && env.reference) {
    const ref = env.reference;
    const k = ref.nLayer;
    const lo = key === 'grow.max_layers' ? Math.min(k, Math.max(1, env.layers ?? 1)) : 1;
    const full = parameterCountOf(ref);
    for (let n = lo; n <= k; n++) {
      const params = parameterCountOf(withLayers(ref, n));
      push(String(n), {
        kind: CompletionItemKind.Value,
        detail: `${formatParams(params)} params`,
        documentation: {
          kind: MarkupKind.Markdown,
          value:
            key === 'target.layers'
              ? `Inherit blocks 1–${n} of the reference's ${k}: a ${n}-layer model of ${formatParams(params)} parameters (${((100 * params) / full).toFixed(0)}% of the reference's ${formatParams(full)}).`
              : `Grow up to ${n} of the reference's ${k} layers: at most ${formatParams(params)} parameters.`,
        },
        sortText: String(n).padStart(5, '0'),
      });
    }
  } else if (ctx.block && spec.type !== 'object' && spec.default !== undefined && spec.type !== 'enum' && spec.type !== 'bool') {
    const d = defaultText(spec) as string;
    push(d, { detail: `default of ${name}`, sortText: '0' });
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// Paths

const SKIP_DIRS = new Set(['node_modules', '.git', '__pycache__']);
const walkCache = new Map<string, { time: number; models: string[]; data: string[] }>();

/** Model folders (holding config.json) and data files under `root`, a few levels deep (cached for 5 s). */
function walk(root: string): { models: string[]; data: string[] } {
  const hit = walkCache.get(root);
  if (hit && Date.now() - hit.time < 5000) return hit;
  const models: string[] = [];
  const data: string[] = [];
  const queue: [string, number][] = [[root, 0]];
  let visited = 0;
  while (queue.length > 0 && visited < 3000) {
    const [dir, depth] = queue.shift() as [string, number];
    visited++;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    if (entries.some((e) => e.name === 'config.json' && e.isFile())) models.push(dir);
    for (const e of entries) {
      if (e.isDirectory()) {
        if (depth < 4 && !SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) queue.push([path.join(dir, e.name), depth + 1]);
      } else if (e.isFile() && (TOKEN_FILE_EXTENSIONS as readonly string[]).includes(path.extname(e.name).toLowerCase())) {
        if (data.length < 500) data.push(path.join(dir, e.name));
      }
    }
  }
  const out = { time: Date.now(), models, data };
  walkCache.set(root, out);
  return out;
}

/** A path as written in the config: relative to its folder, forward slashes. */
function relative(from: string, to: string): string {
  const r = path.relative(from, to).split(path.sep).join('/');
  return r === '' ? '.' : r;
}

function modelDetail(dir: string): { detail: string; doc?: string } | undefined {
  const c = peekModelConfig(dir);
  if (!c) return undefined;
  return {
    detail: `${FAMILY_NAMES[c.family]} · ${c.nLayer} layers · ${formatParams(parameterCountOf(c))} params`,
    doc: `${describeModelShape(modelShapeOf(c))} (${formatCount(parameterCountOf(c))}).`,
  };
}

function pathItems(ctx: Extract<CompletionContext, { kind: 'value' }>, env: CompletionEnv, want: 'model' | 'data'): CompletionItem[] {
  const base = path.dirname(env.file);
  const sp = ctx.needsSpace ? ' ' : '';
  const seen = new Set<string>();
  const items: CompletionItem[] = [];
  const add = (abs: string, kind: 'model' | 'data' | 'folder') => {
    let label = relative(base, abs);
    if (kind === 'folder') label += '/';
    if (seen.has(label)) return;
    seen.add(label);
    const item: CompletionItem = { label, insertText: sp + label, filterText: label, sortText: `${kind === 'folder' ? '2' : '1'}${label}` };
    if (kind === 'model') {
      const d = modelDetail(abs);
      item.kind = CompletionItemKind.Folder;
      item.detail = d?.detail ?? 'model folder (config.json)';
      if (d?.doc) item.documentation = { kind: MarkupKind.Markdown, value: d.doc };
    } else if (kind === 'data') {
      item.kind = CompletionItemKind.File;
      try {
        const ext = path.extname(abs).slice(1).toLowerCase();
        item.detail = `${formatBytes(fs.statSync(abs).size)} · ${ext === 'bin' || ext === 'npy' ? 'uint16 tokens' : `text (${ext})`}`;
      } catch {
        // gone since the walk
      }
    } else {
      item.kind = CompletionItemKind.Folder;
      item.command = { title: 'Suggest', command: 'editor.action.triggerSuggest' };
    }
    items.push(item);
  };

  // What the typed prefix points into: `../models/` lists that folder.
  const typed = ctx.prefix;
  if (typed.includes('/')) {
    const dir = path.resolve(base, typed.replace(/^~(?=\/)/, process.env.HOME ?? '~').slice(0, typed.lastIndexOf('/') + 1) || '.');
    try {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const abs = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (want === 'model' && fs.existsSync(path.join(abs, 'config.json'))) add(abs, 'model');
          else if (!SKIP_DIRS.has(e.name)) add(abs, 'folder');
        } else if (want === 'data' && e.isFile() && (TOKEN_FILE_EXTENSIONS as readonly string[]).includes(path.extname(e.name).toLowerCase())) add(abs, 'data');
      }
    } catch {
      // not a folder (yet)
    }
  }
  for (const root of [base, ...env.roots]) {
    const found = walk(root);
    for (const abs of want === 'model' ? found.models : found.data) add(abs, want);
  }
  return items.slice(0, 300);
}
