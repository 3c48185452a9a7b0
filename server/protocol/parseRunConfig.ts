/**
 * Parses and checks a run config's text (no file access): YAML syntax, every key against the schema
 * table (configSchema.ts), then the rules across keys (configCrossChecks.ts). Each issue carries its
 * source range and, where one is obvious, a quick fix. Checks against files (the reference model, the
 * data) live in server/engine/configCheck.ts.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YNode, type Scalar, type YAMLMap } from 'yaml';
import { crossCheckRunConfig } from './configCrossChecks.js';
import { byPosition, type ConfigIssue, type IssueOptions } from './configIssue.js';
import { pathText, specAt } from './configPaths.js';
import { CONFIG_SCHEMA, type FieldSpec } from './configSchema.js';
import { boundsText, kindText, typeText, yamlValue } from './configText.js';
import type { RunConfig } from './configTypes.js';
import { closest } from './editDistance.js';
import { MAX_YAML_DEPTH, nestingTooDeepAt } from './yamlNesting.js';

interface Located {
  range: { start: number; end: number };
  line: number;
  col: number;
  /** Whether the key at the path itself is written in the file (not a default). */
  present: boolean;
}

export interface ParsedRunConfig {
  /** Present when there are no errors (warnings allowed): every default filled except target.layers and grow.max_layers. */
  config?: RunConfig;
  issues: ConfigIssue[];
  /** The parsed YAML document (with source ranges). */
  document: Document;
  /** Where the value (or key) at `path` is; a path not written in the file resolves to the nearest written ancestor's key. */
  locate(path: readonly string[], at?: 'key' | 'value'): Located;
  /** Whether `path` is written in the file. */
  present(path: readonly string[]): boolean;
  /**
   * The valid value at `path`: as written, or the schema's default when not written; undefined when
   * what is written is invalid (or there is no default). Checks that need other fields use it, so
   * they run on every valid value even while other parts of the file have errors.
   */
  value(path: readonly string[]): unknown;
  /** An issue located at `path` (on its value unless `at: 'key'`). */
  issue(path: readonly string[], message: string, opts?: IssueOptions): ConfigIssue;
}

const INVALID = Symbol('invalid');
type Checked = unknown; // a valid value, or INVALID

interface Entry {
  key?: Scalar;
  value: YNode | null;
}

const keyOf = (path: readonly string[]) => path.join('\u0000');

/** The run name derived from a config file name: `runs/demo.inheritune.yaml` -> `demo`. */
export function defaultRunName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.inheritune\.ya?ml$/i, '').replace(/\.ya?ml$/i, '');
  const clean = stem.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return clean === '' ? 'run' : clean;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** Parses and checks a run config (no file access). `file` names the run by default. */
export function parseRunConfig(text: string, file: string): ParsedRunConfig {
  const deepAt = nestingTooDeepAt(text);
  // Too deep: refused with one issue, and the text is never composed.
  const reader = new ConfigReader(deepAt === undefined ? text : '', text, file);
  if (deepAt !== undefined) {
    reader.issues.push(tooDeepIssue(text, deepAt));
    return { ...reader.parsed(undefined), value: () => undefined };
  }
  reader.reportYamlProblems();
  const root = reader.resolve(reader.document.contents);
  reader.entries.set(keyOf([]), { value: root });
  const checked = reader.check(root, CONFIG_SCHEMA, []);
  crossCheckRunConfig({
    value: reader.valueAt,
    present: (path) => reader.locate(path).present,
    validWritten: (path) => reader.entries.has(keyOf(path)) && reader.values.has(keyOf(path)),
    report: reader.report,
  });
  reader.issues.sort(byPosition);
  const hasError = reader.issues.some((i) => i.severity === 'error');
  return reader.parsed(hasError || checked === INVALID ? undefined : (checked as RunConfig));
}

function tooDeepIssue(text: string, deepAt: number): ConfigIssue {
  const before = text.slice(0, deepAt);
  return {
    path: [],
    message: `YAML: collections nested more than ${MAX_YAML_DEPTH} levels deep (a run config needs 3); the file was not read further`,
    severity: 'error',
    range: { start: deepAt, end: deepAt },
    line: before.split('\n').length,
    col: deepAt - (before.lastIndexOf('\n') + 1) + 1,
  };
}

/** A schema key named `key` outside the mapping at `notUnder`, for "it belongs under ..." hints. */
function findKeyElsewhere(key: string, notUnder: string[]): string[] | undefined {
  const walk = (s: FieldSpec, p: string[]): string[] | undefined => {
    for (const [k, f] of Object.entries(s.fields ?? {})) {
      if (k === key && keyOf(p) !== keyOf(notUnder)) return [...p, k];
      if (f.type === 'object') {
        const hit = walk(f, [...p, k]);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  return walk(CONFIG_SCHEMA, []);
}

/** One pass over one config text: the document, where each key is, each valid value, the issues found. */
class ConfigReader {
  readonly lineCounter = new LineCounter();
  readonly document: Document;
  readonly issues: ConfigIssue[] = [];
  readonly entries = new Map<string, Entry>();
  /** Valid values of the keys written in the file (for cross-field rules). */
  readonly values = new Map<string, unknown>();

  /** `composed`: the text given to the YAML composer; `text`: the file's text, which ranges point into. */
  constructor(
    composed: string,
    private readonly text: string,
    private readonly file: string,
  ) {
    this.document = parseDocument(composed, { lineCounter: this.lineCounter, prettyErrors: false, uniqueKeys: true });
  }

  parsed(config: RunConfig | undefined): ParsedRunConfig {
    return {
      config,
      issues: this.issues,
      document: this.document,
      locate: this.locate,
      present: (path) => this.locate(path).present,
      value: this.valueAt,
      issue: this.issue,
    };
  }

  private position(from: number, to: number): Pick<Located, 'range' | 'line' | 'col'> {
    // The YAML parser reports an error at the end of the text as the character after it: clamp.
    const start = Math.min(from, this.text.length);
    const end = Math.min(Math.max(to, start), this.text.length);
    const { line, col } = this.lineCounter.linePos(start);
    return { range: { start, end }, line, col };
  }

  readonly locate = (path: readonly string[], at: 'key' | 'value' = 'value'): Located => {
    for (let n = path.length; n >= 0; n--) {
      const e = this.entries.get(keyOf(path.slice(0, n)));
      if (!e) continue;
      const present = n === path.length;
      const v = e.value;
      const emptyValue = !v || (isScalar(v) && v.value === null && v.range?.[0] === v.range?.[1]);
      if (present && at === 'value' && !emptyValue && v?.range) return { ...this.position(v.range[0], v.range[1]), present };
      if (e.key?.range) return { ...this.position(e.key.range[0], e.key.range[1]), present };
      if (present && v?.range && n > 0) return { ...this.position(v.range[0], v.range[1]), present };
    }
    return { ...this.position(0, 0), present: path.length === 0 };
  };

  readonly issue = (path: readonly string[], message: string, opts: IssueOptions = {}): ConfigIssue => {
    const loc = this.locate(path, opts.at);
    const out: ConfigIssue = { path: [...path], message, severity: opts.severity ?? 'error', range: loc.range, line: loc.line, col: loc.col };
    if (opts.fix && loc.present) out.fix = { kind: 'replace', ...opts.fix };
    return out;
  };

  readonly report = (path: readonly string[], message: string, opts?: IssueOptions): void => {
    this.issues.push(this.issue(path, message, opts));
  };

  readonly valueAt = (path: readonly string[]): unknown => (this.entries.has(keyOf(path)) ? this.values.get(keyOf(path)) : specAt(path)?.default);

  /** YAML syntax errors and warnings (duplicate keys among them). */
  reportYamlProblems(): void {
    const yamlIssue = (e: { pos: [number, number]; message: string; code: string }, severity: 'error' | 'warning') => {
      const [start, end] = e.pos;
      // A duplicate key is reported at its first character; cover the whole key.
      const word = e.code === 'DUPLICATE_KEY' ? (/^[^\s:,{}[\]]+/.exec(this.text.slice(start))?.[0].length ?? 0) : 0;
      this.issues.push({ path: [], message: `YAML: ${e.message}`, severity, ...this.position(start, Math.max(start + word, end)) });
    };
    for (const e of this.document.errors) yamlIssue(e, 'error');
    for (const e of this.document.warnings) yamlIssue(e, 'warning');
  }

  resolve(n: unknown): YNode | null {
    if (isAlias(n)) return (n.resolve(this.document) as YNode | undefined) ?? null;
    return (n as YNode | null) ?? null;
  }

  /** The checked value of `node` against `spec`, or INVALID (after reporting why). */
  check(node: YNode | null, spec: FieldSpec, path: string[]): Checked {
    const v = this.checkValue(node, spec, path);
    if (v !== INVALID) this.values.set(keyOf(path), v);
    return v;
  }

  private checkValue(node: YNode | null, spec: FieldSpec, path: string[]): Checked {
    if (spec.type === 'object') {
      if (node === null || (isScalar(node) && node.value === null)) return this.checkMap(undefined, spec, path);
      if (!isMap(node)) {
        this.report(path, `${pathText(path) || 'the run config'} must be ${kindText(spec)}, got ${show(jsValue(node))}`);
        return INVALID;
      }
      return this.checkMap(node, spec, path);
    }
    if (spec.type === 'list') return this.checkList(node, spec, path);
    if (!isScalar(node)) {
      this.report(path, `${pathText(path)} must be ${kindText(spec)}, got ${show(jsValue(node))}`);
      return INVALID;
    }
    return this.checkScalar(node, spec, path);
  }

  private checkList(node: YNode | null, spec: FieldSpec, path: string[]): Checked {
    const name = pathText(path);
    if (!isSeq(node)) {
      const v = jsValue(node);
      const item = spec.items;
      const fixable = isScalar(node) && typeof v === 'string' && item?.type === 'enum' && item.values?.includes(v);
      this.report(path, `${name} must be ${typeText(spec)}, e.g. ${yamlValue(spec.default ?? [])}, got ${show(v)}`, {
        fix: fixable ? { text: `[${String(v)}]`, title: `Change to [${String(v)}]` } : undefined,
      });
      return INVALID;
    }
    const out: unknown[] = [];
    let ok = true;
    const seen = new Map<unknown, number>();
    node.items.forEach((raw, i) => {
      const child = this.resolve(raw);
      const p = [...path, String(i)];
      this.entries.set(keyOf(p), { value: child });
      const v = spec.items ? this.check(child, spec.items, p) : INVALID;
      if (v === INVALID) ok = false;
      else if (spec.unique && seen.has(v)) this.report(p, `${name} lists ${show(v)} twice`, { severity: 'warning' });
      else seen.set(v, i);
      out.push(v);
    });
    const n = node.items.length;
    if (spec.minItems !== undefined && spec.minItems === spec.maxItems && n !== spec.minItems) {
      this.report(path, `${name} must have exactly ${spec.minItems} items, got ${n}`);
      return INVALID;
    }
    if (spec.minItems !== undefined && n < spec.minItems) {
      this.report(path, `${name} must have at least ${spec.minItems} items, got ${n}`);
      return INVALID;
    }
    if (spec.maxItems !== undefined && n > spec.maxItems) {
      this.report(path, `${name} must have at most ${spec.maxItems} items, got ${n}`);
      return INVALID;
    }
    return ok ? out : INVALID;
  }

  private checkScalar(node: Scalar, spec: FieldSpec, path: string[]): Checked {
    const src = node.range ? this.text.slice(node.range[0], node.range[1]) : String(node.value);
    switch (spec.type) {
      case 'int':
      case 'number':
        return this.checkNumber(node.value, src, spec, path);
      case 'bool':
        return this.checkBool(node.value, spec, path);
      case 'string':
      case 'path':
        return this.checkString(node.value, src, spec, path);
      case 'enum':
        return this.checkEnum(node.value, spec, path);
    }
    return INVALID;
  }

  /** The mismatch every scalar check reports: what the value must be, what it is. */
  private mismatch(v: unknown, spec: FieldSpec, path: string[], fix?: IssueOptions['fix']): Checked {
    this.report(path, `${pathText(path)} must be ${kindText(spec)}, got ${show(v)}`, { fix });
    return INVALID;
  }

  private checkNumber(v: unknown, src: string, spec: FieldSpec, path: string[]): Checked {
    const name = pathText(path);
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      // "1_000" or "1,000" and the like: offer the number when it is one.
      const n = typeof v === 'string' ? Number(v.replace(/[_,]/g, '')) : NaN;
      const fix = typeof v === 'string' && v.trim() !== '' && Number.isFinite(n) && (spec.type === 'number' || Number.isInteger(n))
        ? { text: String(n), title: `Change to ${n}` }
        : undefined;
      if (typeof v === 'number') {
        this.report(path, `${name} must be a finite number, got ${src}`);
        return INVALID;
      }
      return this.mismatch(v, spec, path, fix);
    }
    if (spec.type === 'int' && !Number.isInteger(v)) {
      this.report(path, `${name} must be ${kindText(spec)}, got ${src}`, { fix: { text: String(Math.round(v)), title: `Change to ${Math.round(v)}` } });
      return INVALID;
    }
    // YAML reads 1e23 as an integer; integers beyond 2^53 are not exact, so none is accepted.
    const bounded = spec.type === 'int' && spec.max === undefined ? { ...spec, max: Number.MAX_SAFE_INTEGER } : spec;
    const { min, max } = bounded;
    const low = min !== undefined && (spec.exclusiveMin ? v <= min : v < min);
    const high = max !== undefined && (spec.exclusiveMax ? v >= max : v > max);
    if (low || high) {
      const bound = low ? min : max;
      const exclusive = low ? spec.exclusiveMin : spec.exclusiveMax;
      this.report(path, `${name} must be ${boundsText(low ? spec : bounded)}, got ${src}`, {
        fix: bound !== undefined && !exclusive ? { text: String(bound), title: `Change to ${bound}` } : undefined,
      });
      return INVALID;
    }
    return v;
  }

  private checkBool(v: unknown, spec: FieldSpec, path: string[]): Checked {
    if (typeof v === 'boolean') return v;
    const word = typeof v === 'string' ? v.toLowerCase() : '';
    const as = ['yes', 'y', 'on'].includes(word) ? 'true' : ['no', 'n', 'off'].includes(word) ? 'false' : undefined;
    return this.mismatch(v, spec, path, as ? { text: as, title: `Change to ${as}` } : undefined);
  }

  private checkString(v: unknown, src: string, spec: FieldSpec, path: string[]): Checked {
    const name = pathText(path);
    if (typeof v !== 'string') {
      const quoted = v === null ? undefined : JSON.stringify(src);
      this.report(path, `${name} must be ${kindText(spec)}, got ${show(v)}${quoted ? ` (quote it: ${quoted})` : ''}`, {
        fix: quoted ? { text: quoted, title: `Quote as ${quoted}` } : undefined,
      });
      return INVALID;
    }
    if (v.trim() === '') {
      this.report(path, `${name} must not be empty`);
      return INVALID;
    }
    if (spec.pattern && !new RegExp(spec.pattern).test(v)) {
      this.report(path, `${name} must consist of ${spec.patternText ?? `text matching ${spec.pattern}`}, got ${show(v)}`);
      return INVALID;
    }
    return v;
  }

  private checkEnum(v: unknown, spec: FieldSpec, path: string[]): Checked {
    const allowed = spec.values ?? [];
    if (typeof v === 'string' && allowed.includes(v)) return v;
    const guess = typeof v === 'string' || typeof v === 'number' ? closest(String(v), allowed) : undefined;
    this.report(path, `${pathText(path)} must be ${typeText(spec)}, got ${show(v)}${guess ? `; did you mean "${guess}"?` : ''}`, {
      fix: guess ? { text: guess, title: `Change to "${guess}"` } : undefined,
    });
    return INVALID;
  }

  private checkMap(node: YAMLMap | undefined, spec: FieldSpec, path: string[]): Checked {
    const fields = spec.fields ?? {};
    const given = new Map<string, unknown>();
    let ok = true;
    const seen = new Set<string>();
    for (const pair of node?.items ?? []) {
      const keyNode = this.resolve(pair.key);
      if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number' && typeof keyNode.value !== 'boolean')) {
        const r = (keyNode as YNode | null)?.range ?? [0, 0];
        this.issues.push({ path, message: `${pathText(path) || 'the run config'}: keys must be plain names`, severity: 'error', ...this.position(r[0], r[1]) });
        ok = false;
        continue;
      }
      const key = String(keyNode.value);
      const p = [...path, key];
      const value = this.resolve(pair.value);
      if (seen.has(key)) continue; // YAML already reports the duplicate.
      seen.add(key);
      this.entries.set(keyOf(p), { key: keyNode, value });
      if (!Object.hasOwn(fields, key)) {
        ok = false;
        this.reportUnknownKey(key, Object.keys(fields), path);
        continue;
      }
      const v = this.check(value, fields[key], p);
      if (v === INVALID) ok = false;
      given.set(key, v);
    }
    const out = this.withDefaults(fields, given, seen, path);
    return ok && out !== INVALID ? out : INVALID;
  }

  private reportUnknownKey(key: string, known: string[], path: string[]): void {
    const guess = closest(key, known);
    const where = path.length ? ` in ${pathText(path)}` : '';
    let hint = guess ? `; did you mean "${guess}"?` : '';
    if (!guess) {
      const elsewhere = findKeyElsewhere(key, path);
      hint = elsewhere ? `; it belongs under ${pathText(elsewhere.slice(0, -1))} (${pathText(elsewhere)})` : `; expected one of: ${known.join(', ')}`;
    }
    this.report([...path, key], `unknown key "${key}"${where}${hint}`, { at: 'key', fix: guess ? { text: guess, title: `Change to "${guess}"` } : undefined });
  }

  /** The mapping in schema order, defaults filled; INVALID when a required key is missing or a nested default mapping is invalid. */
  private withDefaults(fields: Readonly<Record<string, FieldSpec>>, given: Map<string, unknown>, seen: Set<string>, path: string[]): Checked {
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const [key, f] of Object.entries(fields)) {
      if (given.has(key)) out[key] = given.get(key);
      else if (seen.has(key)) continue;
      else if (f.required) {
        ok = false;
        this.report(path, `missing required key ${pathText([...path, key])} (${f.doc.split(/[.;:] /)[0].replace(/\.$/, '')})`, { at: 'key' });
      } else if (f.default !== undefined) {
        out[key] = structuredClone(f.default);
      } else if (f.type === 'object') {
        const v = this.checkMap(undefined, f, [...path, key]);
        if (v === INVALID) ok = false;
        out[key] = v;
      } else if (path.length === 0 && key === 'name') {
        out[key] = defaultRunName(this.file);
      }
    }
    return ok ? out : INVALID;
  }
}

/** A node's value as JavaScript, for "got ..." in messages. */
function jsValue(node: YNode | null): unknown {
  return isScalar(node) ? node.value : isSeq(node) ? [] : isMap(node) ? {} : null;
}
