import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BACKENDS,
  BLOCK_PARTS,
  CONFIG_SCHEMA,
  TOKENIZERS,
  closest,
  defaultRunName,
  formatIssue,
  hoverText,
  keyCompletions,
  parseRunConfig,
  pathAtOffset,
  resolveLayers,
  specAt,
  toJsonSchema,
  valueCompletions,
  type ConfigIssue,
  type FieldSpec,
} from '../../server/protocol/config.js';
import { BLOCK_PARTS as ENGINE_BLOCK_PARTS } from '../../server/engine/inherit.js';
import { TOKENIZER_NAMES } from '../../server/engine/data/tokenizer.js';
import { BACKEND_NAMES } from '../../server/engine/backend.js';

const FILE = 'runs/demo.inheritune.yaml';
const MINIMAL = 'reference: { path: models/reference }\ndata: { train: data/train.bin, val: data/val.bin }\n';

function issuesOf(text: string): ConfigIssue[] {
  return parseRunConfig(text, FILE).issues;
}

/** The single issue of `text`, after checking its range covers `covers` and starts at line:col. */
function single(text: string, want: { line: number; col: number; covers: string; message: string | RegExp; severity?: 'error' | 'warning' }): ConfigIssue {
  const issues = issuesOf(text);
  assert.equal(issues.length, 1, `expected one issue, got ${JSON.stringify(issues.map((i) => formatIssue(FILE, i)))}`);
  const [i] = issues;
  if (typeof want.message === 'string') assert.equal(i.message, want.message);
  else assert.match(i.message, want.message);
  assert.equal(text.slice(i.range.start, i.range.end), want.covers);
  assert.deepEqual([i.line, i.col], [want.line, want.col]);
  assert.equal(i.severity, want.severity ?? 'error');
  return i;
}

/** The text with the issue's fix applied. */
function applyFix(text: string, i: ConfigIssue): string {
  assert.ok(i.fix, 'issue has a fix');
  return text.slice(0, i.range.start) + i.fix.text + text.slice(i.range.end);
}

/** Every key path of an object spec (leaves and objects). */
function schemaPaths(spec: FieldSpec, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, f] of Object.entries(spec.fields ?? {})) {
    out.push([...prefix, k]);
    if (f.type === 'object') out.push(...schemaPaths(f, [...prefix, k]));
  }
  return out;
}

function objectPaths(o: Record<string, unknown>, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(o)) {
    out.push([...prefix, k]);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(...objectPaths(v as Record<string, unknown>, [...prefix, k]));
  }
  return out;
}

test('the protocol modules import nothing but yaml and each other (no tfjs, no node built-ins: webviews import them)', () => {
  const dir = join(__dirname, '..', '..', 'server', 'protocol');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(join(dir, name), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    for (const i of imports) assert.ok(i === 'yaml' || /^\.\/[a-z]+\.js$/i.test(i), `${name} imports ${i}`);
  }
});

test('the schema\'s value lists equal the engine\'s', () => {
  assert.deepEqual([...BLOCK_PARTS], [...ENGINE_BLOCK_PARTS]);
  assert.deepEqual([...TOKENIZERS], [...TOKENIZER_NAMES]);
  assert.deepEqual([...BACKENDS], [...BACKEND_NAMES]);
});

test('a minimal config parses with no issues and every default filled; the name comes from the file name', () => {
  const r = parseRunConfig(MINIMAL, FILE);
  assert.deepEqual(r.issues, []);
  const c = r.config;
  assert.ok(c);
  assert.equal(c.name, 'demo');
  assert.equal(c.target.layers, undefined);
  assert.equal(c.grow.max_layers, undefined);
  assert.deepEqual(c.target.inherit, ['attn', 'mlp', 'norms']);
  assert.deepEqual(c.train.betas, [0.9, 0.95]);
  assert.equal(c.train.batch_tokens, 4096);
  assert.deepEqual(c.baselines, ['scratch', 'scratch_2x']);
  assert.equal(c.analysis.mass, 'sorted');
  assert.equal(c.runtime.out_dir, '.inheritune/runs');
  assert.equal(defaultRunName('C:\\x\\My Run.inheritune.yml'), 'My-Run');
});

test('the table and the RunConfig type agree: a resolved default config has exactly the table\'s keys and defaults', () => {
  const c = parseRunConfig(MINIMAL, FILE).config;
  assert.ok(c);
  const resolved = resolveLayers(c, 7);
  assert.equal(resolved.target.layers, 3);
  assert.equal(resolved.grow.max_layers, 7);
  assert.equal(resolveLayers(c, 1).target.layers, 1);
  const key = (p: string[]) => p.join('.');
  // Exactly one of reference.path and reference.hub is present; MINIMAL names a folder.
  const tableKeys = schemaPaths(CONFIG_SCHEMA).filter((p) => key(p) !== 'reference.hub');
  assert.deepEqual(objectPaths(resolved as unknown as Record<string, unknown>).map(key).sort(), tableKeys.map(key).sort());
  for (const p of tableKeys) {
    const spec = specAt(p);
    assert.ok(spec, key(p));
    assert.ok(spec.doc.length > 10, `${key(p)} has a doc string`);
    if (spec.default !== undefined) {
      const v = p.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], resolved);
      assert.deepEqual(v, spec.default, key(p));
    }
  }
});

test('a fully written config (the demo\'s shape) parses with zero issues and keeps every value', () => {
  const text = `name: demo
reference: { path: examples/models/reference }
target:
  layers: 4
  inherit: [attn, mlp, norms]
  embeddings: true
  positions: true
  final_norm: true
grow: { enabled: true, step: 2, max_layers: 8, mode: restart, tolerance: 0.0 }
data:
  train: examples/data/train.bin
  val: examples/data/val.bin
  tokenizer: gpt2
  subset: 1.0
train:
  steps: 200
  batch_tokens: 4096
  micro_batch: 8
  block_size: 64
  lr: 1.0e-3
  min_lr: 1.0e-4
  warmup: 20
  weight_decay: 0.1
  betas: [0.9, 0.95]
  grad_clip: 1.0
  eval_every: 50
  eval_windows: 64
  seed: 1
baselines: [scratch, scratch_2x]
analysis: { every: 100, sequences: 8, seq_len: 64, tau: 0.9, eta: 0.9, mass: sorted }
runtime: { backend: auto, out_dir: .inheritune/runs, checkpoint_every: 100 }
`;
  const r = parseRunConfig(text, 'x.yaml');
  assert.deepEqual(r.issues, []);
  assert.equal(r.config?.target.layers, 4);
  assert.equal(r.config?.grow.max_layers, 8);
  assert.equal(r.config?.train.lr, 1e-3);
});

test('an unknown key says "did you mean" and offers a replace fix on the key; the fixed text is clean', () => {
  const text = MINIMAL + 'train:\n  stpes: 100\n';
  const i = single(text, { line: 4, col: 3, covers: 'stpes', message: 'unknown key "stpes" in train; did you mean "steps"?' });
  assert.deepEqual(i.path, ['train', 'stpes']);
  assert.deepEqual(i.fix, { kind: 'replace', text: 'steps', title: 'Change to "steps"' });
  const fixed = parseRunConfig(applyFix(text, i), FILE);
  assert.deepEqual(fixed.issues, []);
  assert.equal(fixed.config?.train.steps, 100);
  assert.equal(formatIssue(FILE, i), 'runs/demo.inheritune.yaml:4:3: unknown key "stpes" in train; did you mean "steps"?');
});

test('an unknown key that belongs to another section says where; one with no near match lists the keys', () => {
  const i = single(MINIMAL + 'lr: 0.01\n', { line: 3, col: 1, covers: 'lr', message: 'unknown key "lr"; it belongs under train (train.lr)' });
  assert.equal(i.fix, undefined);
  single(MINIMAL + 'grow:\n  zzzz: 1\n', { line: 4, col: 3, covers: 'zzzz', message: 'unknown key "zzzz" in grow; expected one of: enabled, step, max_layers, mode, tolerance' });
  assert.equal(closest('max-layer', ['max_layers', 'mode']), 'max_layers');
  assert.equal(closest('Final_Norm', ['final_norm']), 'final_norm');
});

test('wrong types name the key, the expected type and the value given', () => {
  single(MINIMAL + 'train:\n  steps: abc\n', { line: 4, col: 10, covers: 'abc', message: 'train.steps must be an integer, got "abc"' });
  const frac = single(MINIMAL + 'train:\n  steps: 1.5\n', { line: 4, col: 10, covers: '1.5', message: 'train.steps must be an integer, got 1.5' });
  assert.equal(frac.fix?.text, '2');
  single(MINIMAL + 'train:\n  lr: fast\n', { line: 4, col: 7, covers: 'fast', message: 'train.lr must be a number, got "fast"' });
  single(MINIMAL + 'train: 5\n', { line: 3, col: 8, covers: '5', message: /^train must be a mapping \(keys steps, batch_tokens, .*\), got 5$/ });
  single(MINIMAL + 'analysis:\n  tau: [1]\n', { line: 4, col: 8, covers: '[1]', message: 'analysis.tau must be a number, got a list' });
  const q = single('name: 2024\n' + MINIMAL, { line: 1, col: 7, covers: '2024', message: 'name must be a string, got 2024 (quote it: "2024")' });
  assert.equal(q.fix?.text, '"2024"');
  const n = single(MINIMAL + 'train:\n  steps: 1_000\n', { line: 4, col: 10, covers: '1_000', message: 'train.steps must be an integer, got "1_000"' });
  assert.equal(n.fix?.text, '1000');
});

test('a key with no value is reported at the key', () => {
  single('reference:\n  path:\ndata: { train: a.bin, val: b.bin }\n', { line: 2, col: 3, covers: 'path', message: 'reference.path must be a path, got nothing' });
});

test('booleans and lists: yes/no and a bare item get fixes', () => {
  const b = single(MINIMAL + 'target:\n  embeddings: yes\n', { line: 4, col: 15, covers: 'yes', message: 'target.embeddings must be true or false, got "yes"' });
  assert.equal(b.fix?.text, 'true');
  const l = single(MINIMAL + 'target:\n  inherit: attn\n', {
    line: 4,
    col: 12,
    covers: 'attn',
    message: 'target.inherit must be a list of values from attn, mlp, norms, ln_1, ln_2, e.g. [attn, mlp, norms], got "attn"',
  });
  assert.equal(applyFix(MINIMAL + 'target:\n  inherit: attn\n', l).endsWith('inherit: [attn]\n'), true);
  single(MINIMAL + 'target:\n  inherit: [attn, mpl]\n', {
    line: 4,
    col: 19,
    covers: 'mpl',
    message: 'target.inherit[1] must be one of attn, mlp, norms, ln_1, ln_2, got "mpl"; did you mean "mlp"?',
  });
});

test('ranges: every bound is enforced at the value, with the bound in words', () => {
  const cases: [string, number, string, string][] = [
    ['train:\n  lr: 0\n', 7, '0', 'train.lr must be greater than 0, got 0'],
    ['train:\n  lr: -1e-3\n', 7, '-1e-3', 'train.lr must be greater than 0, got -1e-3'],
    ['data:\n  subset: 0\n', 11, '0', 'data.subset must be in (0, 1], got 0'],
    ['data:\n  subset: 1.5\n', 11, '1.5', 'data.subset must be in (0, 1], got 1.5'],
    ['analysis:\n  tau: 0\n', 8, '0', 'analysis.tau must be in (0, 1], got 0'],
    ['analysis:\n  eta: 1.2\n', 8, '1.2', 'analysis.eta must be in (0, 1], got 1.2'],
    ['grow:\n  step: 0\n', 9, '0', 'grow.step must be at least 1, got 0'],
    ['train:\n  micro_batch: 0\n', 16, '0', 'train.micro_batch must be at least 1, got 0'],
    ['train:\n  warmup: -1\n', 11, '-1', 'train.warmup must be at least 0, got -1'],
    ['target:\n  layers: 0\n', 11, '0', 'target.layers must be at least 1, got 0'],
    ['train:\n  lr: .inf\n', 7, '.inf', 'train.lr must be a finite number, got .inf'],
  ];
  for (const [yaml, col, covers, message] of cases) {
    // Sections other than data are appended; data is replaced so the case's key is the only one.
    const text = yaml.startsWith('data:') ? `reference: { path: r }\n${yaml.replace('data:\n', 'data:\n  train: a.bin\n  val: b.bin\n')}` : MINIMAL + yaml;
    const line = yaml.startsWith('data:') ? 5 : 4;
    single(text, { line, col, covers, message });
  }
  const clamp = single(MINIMAL + 'grow:\n  step: 0\n', { line: 4, col: 9, covers: '0', message: 'grow.step must be at least 1, got 0' });
  assert.equal(clamp.fix?.text, '1');
});

test('betas: each in [0, 1) and exactly two', () => {
  single(MINIMAL + 'train:\n  betas: [0.9, 1.0]\n', { line: 4, col: 16, covers: '1.0', message: 'train.betas[1] must be in [0, 1), got 1.0' });
  single(MINIMAL + 'train:\n  betas: [0.9]\n', { line: 4, col: 10, covers: '[0.9]', message: 'train.betas must have exactly 2 items, got 1' });
});

test('enums: a wrong value lists the allowed ones and suggests the closest with a fix', () => {
  const i = single(MINIMAL + 'grow: { mode: restrat }\n', { line: 3, col: 15, covers: 'restrat', message: 'grow.mode must be one of restart, continue, got "restrat"; did you mean "restart"?' });
  assert.equal(i.fix?.text, 'restart');
  single(MINIMAL + 'runtime:\n  backend: vulkan\n', { line: 4, col: 12, covers: 'vulkan', message: 'runtime.backend must be one of auto, tensorflow, wasm, cpu, webgpu, got "vulkan"' });
  const t = single('reference: { path: r }\ndata: { train: a.txt, val: b.txt, tokenizer: GPT2 }\n', {
    line: 2,
    col: 46,
    covers: 'GPT2',
    message: 'data.tokenizer must be one of gpt2, bytes, model, got "GPT2"; did you mean "gpt2"?',
  });
  assert.equal(t.fix?.text, 'gpt2');
});

test('batch_tokens must be a multiple of micro_batch * block_size; the message gives the nearest valid values', () => {
  const text = MINIMAL + 'train:\n  micro_batch: 8\n  block_size: 64\n  batch_tokens: 5000\n';
  const i = single(text, {
    line: 6,
    col: 17,
    covers: '5000',
    message: 'train.batch_tokens (5000) must be a multiple of train.micro_batch * train.block_size = 8 * 64 = 512; nearest valid values: 4608 or 5120',
  });
  assert.equal(i.fix?.text, '5120');
  assert.deepEqual(parseRunConfig(applyFix(text, i), FILE).issues, []);
  // Below one micro-batch: only the value above.
  single(MINIMAL + 'train:\n  batch_tokens: 100\n', { line: 4, col: 17, covers: '100', message: /nearest valid values: 512$/ });
  // batch_tokens left at its default: reported at the key that was written, without a fix.
  const d = single(MINIMAL + 'train:\n  block_size: 100\n', {
    line: 4,
    col: 15,
    covers: '100',
    message: 'train.batch_tokens (4096, the default) must be a multiple of train.micro_batch * train.block_size = 8 * 100 = 800; nearest valid values: 4000 or 4800',
  });
  assert.equal(d.fix, undefined);
});

test('min_lr <= lr, warmup <= steps (grow.max_layers >= target.layers is checked with the reference: config-check.test.ts)', () => {
  single(MINIMAL + 'train:\n  lr: 1e-3\n  min_lr: 1e-2\n', { line: 5, col: 11, covers: '1e-2', message: 'train.min_lr (0.01) must not exceed train.lr (0.001)' });
  single(MINIMAL + 'train:\n  min_lr: 1e-2\n', { line: 4, col: 11, covers: '1e-2', message: 'train.min_lr (0.01) must not exceed train.lr (0.001, the default)' });
  const w = single(MINIMAL + 'train:\n  steps: 10\n  warmup: 20\n', { line: 5, col: 11, covers: '20', message: 'train.warmup (20) must not exceed train.steps (10)' });
  assert.equal(w.fix?.text, '10');
});

test('missing required keys are reported at the enclosing key (or the start of the file)', () => {
  single('reference: { path: r }\ndata:\n  train: a.bin\n', { line: 2, col: 1, covers: 'data', message: /^missing required key data\.val / });
  const issues = issuesOf('');
  assert.deepEqual(
    issues.map((i) => [i.line, i.col, i.message.split(' (')[0]]),
    [
      [1, 1, 'missing required key reference'],
      [1, 1, 'missing required key data'],
    ],
  );
  single('- a\n', { line: 1, col: 1, covers: '- a\n', message: /^the run config must be a mapping \(keys name, reference, .*\), got a list$/ });
});

test('YAML syntax errors and duplicate keys carry line and column', () => {
  const text = MINIMAL + 'train:\n  steps: 100\n  steps: 200\n';
  const dup = issuesOf(text);
  assert.equal(dup.length, 1);
  assert.match(dup[0].message, /^YAML: Map keys must be unique/);
  assert.deepEqual([dup[0].line, dup[0].col], [5, 3]);
  assert.equal(text.slice(dup[0].range.start, dup[0].range.end), 'steps');
  const bad = issuesOf(MINIMAL + 'train: [1, 2\n');
  assert.ok(bad.some((i) => i.message.startsWith('YAML: Flow sequence') && i.line === 4 && i.col === 1 && i.severity === 'error'), JSON.stringify(bad));
  assert.equal(parseRunConfig(MINIMAL + 'train: [1, 2\n', FILE).config, undefined);
});

test('warnings (repeated list items, nothing inherited, eval_every > steps) keep the config', () => {
  const dup = parseRunConfig(MINIMAL + 'baselines: [scratch, scratch]\n', FILE);
  assert.equal(dup.issues.length, 1);
  assert.equal(dup.issues[0].severity, 'warning');
  assert.equal(dup.issues[0].message, 'baselines lists "scratch" twice');
  assert.deepEqual([dup.issues[0].line, dup.issues[0].col], [3, 22]);
  assert.ok(dup.config);
  single(MINIMAL + 'target: { inherit: [], embeddings: false, positions: false, final_norm: false }\n', {
    line: 3,
    col: 1,
    covers: 'target',
    severity: 'warning',
    message: /^nothing is inherited/,
  });
  single(MINIMAL + 'train: { steps: 10, warmup: 0, eval_every: 50 }\n', { line: 3, col: 44, covers: '50', severity: 'warning', message: /validation runs only at the end$/ });
});

test('toJsonSchema: draft-07, a description everywhere, enums, defaults, additionalProperties false', () => {
  const s = toJsonSchema();
  assert.equal(s.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.deepEqual(s.required, ['reference', 'data']);
  const walk = (node: Record<string, unknown>, where: string) => {
    assert.equal(typeof node.description, 'string', `${where} has a description`);
    if (node.type === 'object') {
      assert.equal(node.additionalProperties, false, `${where} closed`);
      for (const [k, v] of Object.entries(node.properties as Record<string, Record<string, unknown>>)) walk(v, `${where}.${k}`);
    }
    if (node.type === 'array') walk(node.items as Record<string, unknown>, `${where}[]`);
  };
  walk(s, '$');
  const props = s.properties as Record<string, { properties: Record<string, Record<string, unknown>> }>;
  assert.deepEqual(props.grow.properties.mode, {
    description: props.grow.properties.mode.description,
    type: 'string',
    enum: ['restart', 'continue'],
    default: 'restart',
  });
  assert.equal(props.data.properties.subset.exclusiveMinimum, 0);
  assert.equal(props.data.properties.subset.maximum, 1);
  assert.equal(props.train.properties.steps.type, 'integer');
  assert.deepEqual((props.target.properties.inherit.items as Record<string, unknown>).enum, [...BLOCK_PARTS]);
  assert.match(String(props.target.properties.layers.description), /half the reference's layers/);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(s)));

  // The schema accepts the resolved default config and rejects what the parser rejects.
  const c = parseRunConfig(MINIMAL, FILE).config;
  assert.ok(c);
  assert.deepEqual(validateJson(s, resolveLayers(c, 6)), []);
  const bad = { ...resolveLayers(c, 6), extra: 1, train: { ...c.train, lr: 0, steps: 1.5 }, grow: { ...c.grow, mode: 'x' } };
  assert.deepEqual(validateJson(s, bad).sort(), ['$.extra: not allowed', '$.grow.mode: not in enum', '$.train.lr: below exclusiveMinimum', '$.train.steps: not integer']);
});

/** A small draft-07 subset validator (the keywords toJsonSchema emits). */
function validateJson(schema: Record<string, unknown>, value: unknown, where = '$'): string[] {
  const errs: string[] = [];
  const t = schema.type;
  if (t === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: not object`];
    const props = schema.properties as Record<string, Record<string, unknown>>;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in value)) errs.push(`${where}.${r}: required`);
    for (const [k, v] of Object.entries(value)) {
      if (!props[k]) errs.push(`${where}.${k}: not allowed`);
      else errs.push(...validateJson(props[k], v, `${where}.${k}`));
    }
  } else if (t === 'array') {
    if (!Array.isArray(value)) return [`${where}: not array`];
    value.forEach((v, i) => errs.push(...validateJson(schema.items as Record<string, unknown>, v, `${where}[${i}]`)));
  } else if (t === 'integer' || t === 'number') {
    if (typeof value !== 'number' || (t === 'integer' && !Number.isInteger(value))) return [`${where}: not ${t}`];
    if (typeof schema.minimum === 'number' && value < schema.minimum) errs.push(`${where}: below minimum`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) errs.push(`${where}: below exclusiveMinimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errs.push(`${where}: above maximum`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) errs.push(`${where}: above exclusiveMaximum`);
  } else if (t === 'string') {
    if (typeof value !== 'string') return [`${where}: not string`];
    if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${where}: not in enum`);
  } else if (t === 'boolean' && typeof value !== 'boolean') errs.push(`${where}: not boolean`);
  return errs;
}

test('hover, completions and the key path under the cursor come from the same table', () => {
  const h = hoverText(['train', 'lr']);
  assert.ok(h);
  assert.match(h, /^\*\*train\.lr\*\*: a number greater than 0; default `0\.001`/);
  assert.match(h, /Peak learning rate/);
  assert.match(hoverText(['target', 'layers']) ?? '', /default: half the reference's layers/);
  assert.match(hoverText(['grow', 'mode']) ?? '', /- `continue`: keep the trained blocks/);
  assert.equal(hoverText(['train', 'nope']), undefined);

  const keys = keyCompletions(['grow'], ['mode']).map((k) => k.key);
  assert.deepEqual(keys, ['enabled', 'step', 'max_layers', 'tolerance']);
  const top = keyCompletions([]);
  assert.deepEqual(top.find((k) => k.key === 'train')?.insertText, 'train:');
  assert.equal(top.find((k) => k.key === 'reference')?.required, true);
  assert.equal(keyCompletions(['train']).find((k) => k.key === 'lr')?.insertText, 'lr: 0.001');
  assert.deepEqual(valueCompletions(['target', 'inherit']).map((v) => v.value), [...BLOCK_PARTS]);
  assert.deepEqual(valueCompletions(['target', 'inherit', '2']).map((v) => v.value), [...BLOCK_PARTS]);
  assert.deepEqual(valueCompletions(['grow', 'enabled']).map((v) => v.value), ['true', 'false']);
  assert.deepEqual(valueCompletions(['train', 'lr']), []);

  const text = 'train:\n  steps: 5\ntarget:\n  inherit: [attn, mlp]\n';
  assert.deepEqual(pathAtOffset(text, text.indexOf('steps') + 2), { path: ['train', 'steps'], part: 'key' });
  assert.deepEqual(pathAtOffset(text, text.indexOf('5')), { path: ['train', 'steps'], part: 'value' });
  assert.deepEqual(pathAtOffset(text, text.indexOf('mlp')), { path: ['target', 'inherit', '1'], part: 'value' });
});

test('the paper\'s baselines and seeds parse; kd with runtime.engine torch is refused at baselines', () => {
  const c = parseRunConfig(MINIMAL + 'train: { seeds: [1, 2, 3], kd_alpha: 0.5, kd_temperature: 2 }\nbaselines: [stacking, hybrid_stacking, half_width, kd, full_scratch]\n', FILE);
  assert.deepEqual(c.issues, []);
  assert.deepEqual(c.config?.train.seeds, [1, 2, 3]);
  assert.deepEqual([c.config?.train.kd_alpha, c.config?.train.kd_temperature], [0.5, 2]);
  single(MINIMAL + 'baselines: [scratch, kd]\nruntime: { engine: torch }\n', {
    line: 3,
    col: 12,
    covers: '[scratch, kd]',
    message: 'the kd baseline (distillation from the reference) is implemented in the tfjs engine only: remove kd from baselines or set runtime.engine: tfjs',
  });
  assert.equal(issuesOf(MINIMAL + 'train: { seeds: [1, 1] }\n').length, 1, 'seeds are unique');
  assert.equal(issuesOf(MINIMAL + 'train: { kd_alpha: 1.5 }\n').length, 1, 'kd_alpha is within [0, 1]');
});
