/** The schema in words: value types, defaults, hover markdown and completion items. */
import type { FieldSpec } from './configSchema.js';
import { pathText, specAt } from './configPaths.js';

export function boundsText(s: FieldSpec): string | undefined {
  const { min, max } = s;
  if (min !== undefined && max !== undefined) return `in ${s.exclusiveMin ? '(' : '['}${min}, ${max}${s.exclusiveMax ? ')' : ']'}`;
  if (min !== undefined) return s.exclusiveMin ? `greater than ${min}` : `at least ${min}`;
  if (max !== undefined) return s.exclusiveMax ? `less than ${max}` : `at most ${max}`;
  return undefined;
}

/** What a value must be, in words: "an integer, at least 1", "one of gpt2, bytes", ... */
export function typeText(s: FieldSpec): string {
  const bounds = boundsText(s);
  switch (s.type) {
    case 'int':
      return bounds ? `an integer ${bounds}` : 'an integer';
    case 'number':
      return bounds ? `a number ${bounds}` : 'a number';
    case 'bool':
      return 'true or false';
    case 'string':
      return s.patternText ? `a string of ${s.patternText}` : 'a string';
    case 'path':
      return 'a path (relative to the config file)';
    case 'enum':
      return `one of ${(s.values ?? []).join(', ')}`;
    case 'list': {
      const it = s.items;
      const count = s.minItems !== undefined && s.minItems === s.maxItems ? `${s.minItems} ` : '';
      if (it?.type === 'enum') return `a list of ${count}values from ${(it.values ?? []).join(', ')}`;
      if (it?.type === 'number' || it?.type === 'int') {
        const b = boundsText(it);
        return `a list of ${count}${it.type === 'int' ? 'integers' : 'numbers'}${b ? `, each ${b}` : ''}`;
      }
      return 'a list';
    }
    case 'object':
      return `a mapping with keys ${Object.keys(s.fields ?? {}).join(', ')}`;
  }
}

/** The kind of value without bounds ("an integer", "a path"), for type mismatches. */
export function kindText(s: FieldSpec): string {
  switch (s.type) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'path':
      return 'a path';
    case 'object':
      return `a mapping (keys ${Object.keys(s.fields ?? {}).join(', ')})`;
    default:
      return typeText(s);
  }
}

/** The default as YAML text, or the words for a reference-dependent default. */
export function defaultText(s: FieldSpec): string | undefined {
  if (s.default !== undefined) return yamlValue(s.default);
  return s.defaultText;
}

export function yamlValue(v: unknown): string {
  return Array.isArray(v) ? `[${v.map(yamlValue).join(', ')}]` : String(v);
}

/** The schema's default at `path` as YAML text: templates and settings take defaults from here instead of typing them again. */
export function schemaDefault(path: readonly string[]): string {
  const d = specAt(path)?.default;
  if (d === undefined) throw new Error(`${pathText(path)} has no default in the config schema`);
  return yamlValue(d);
}

/** Markdown for hovering the key at `path`: name, type, default, doc. */
export function hoverText(path: readonly string[]): string | undefined {
  const s = specAt(path);
  if (!s) return undefined;
  const parts = [`**${pathText(path) || 'run config'}**: ${typeText(s)}`];
  if (s.required) parts[0] += ' (required)';
  else if (s.default !== undefined) parts[0] += `; default \`${yamlValue(s.default)}\``;
  else if (s.defaultText) parts[0] += `; default: ${s.defaultText}`;
  parts.push(s.doc);
  const values = s.type === 'list' ? s.items : s;
  if (values?.valueDocs) parts.push(Object.entries(values.valueDocs).map(([k, v]) => `- \`${k}\`: ${v}`).join('\n'));
  return parts.join('\n\n');
}

export interface KeyCompletion {
  key: string;
  /** typeText and default, one line. */
  detail: string;
  doc: string;
  /** `key: default` for scalars and lists, `key:` for mappings (their keys follow on new lines). */
  insertText: string;
  required: boolean;
}

/** Keys that can be written inside the mapping at `path`, except those in `present`. */
export function keyCompletions(path: readonly string[], present: readonly string[] = []): KeyCompletion[] {
  const s = specAt(path);
  if (!s || s.type !== 'object') return [];
  return Object.entries(s.fields ?? {})
    .filter(([k]) => !present.includes(k))
    .map(([key, f]) => {
      const d = f.default !== undefined ? yamlValue(f.default) : undefined;
      return {
        key,
        detail: typeText(f) + (f.required ? ' (required)' : d !== undefined ? `; default ${d}` : f.defaultText ? `; default ${f.defaultText}` : ''),
        doc: f.doc,
        insertText: f.type === 'object' ? `${key}:` : d !== undefined ? `${key}: ${d}` : `${key}: `,
        required: f.required === true,
      };
    });
}

/** Values offered at `path`: enum values (also for list items), true/false for booleans. */
export function valueCompletions(path: readonly string[]): { value: string; doc?: string }[] {
  let s = specAt(path);
  if (s?.type === 'list') s = s.items;
  if (!s) return [];
  if (s.type === 'bool') return [{ value: 'true' }, { value: 'false' }];
  if (s.type === 'enum') return (s.values ?? []).map((value) => ({ value, doc: s?.valueDocs?.[value] }));
  return [];
}
