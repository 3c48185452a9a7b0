/**
 * A small schema language: each schema checks a value at run time and carries its TypeScript type,
 * so types derived from the checks cannot drift from them. Used for everything that crosses a
 * process or file boundary: WebSocket messages (messages.ts) and stored run events (events.ts).
 * No node imports: webviews use it too.
 */

export interface Schema<T> {
  /** Words for error messages: "a string", "an integer >= 1". */
  readonly expected: string;
  /** The value, or an error message naming `path`. */
  check(value: unknown, path: string): { ok: true; value: T } | { ok: false; error: string };
}
export type Infer<S> = S extends Schema<infer T> ? T : never;
/** true when A and B are the same type; `const x: Same<Infer<typeof S>, T> = true` ties a schema to a declared type. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

export interface Optional<T> {
  readonly optional: Schema<T>;
}
type Field = Schema<unknown> | Optional<unknown>;
type Shape = Record<string, Field>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type InferShape<S extends Shape> = Simplify<
  { [K in keyof S as S[K] extends Optional<unknown> ? never : K]: S[K] extends Schema<infer T> ? T : never } & {
    [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: S[K] extends Optional<infer T> ? T : never;
  }
>;

const ok = <T>(value: T) => ({ ok: true as const, value });
const fail = (error: string) => ({ ok: false as const, error });
export const show = (v: unknown) => (v === undefined ? 'nothing' : typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v));

export function str(o: { min?: number; max?: number } = {}): Schema<string> {
  const min = o.min ?? 0;
  const max = o.max ?? 4096;
  const expected = min > 0 ? `a non-empty string of at most ${max} characters` : `a string of at most ${max} characters`;
  return {
    expected,
    check: (v, p) => (typeof v === 'string' && v.length >= min && v.length <= max ? ok(v) : fail(`${p} must be ${expected}, got ${show(v)}`)),
  };
}

export function int(o: { min?: number; max?: number } = {}): Schema<number> {
  const min = o.min ?? Number.MIN_SAFE_INTEGER;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  const expected = `an integer${o.min !== undefined ? ` >= ${min}` : ''}${o.max !== undefined ? ` <= ${max}` : ''}`;
  return {
    expected,
    check: (v, p) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? ok(v) : fail(`${p} must be ${expected}, got ${show(v)}`)),
  };
}

export function num(o: { min?: number; max?: number } = {}): Schema<number> {
  const min = o.min ?? -Infinity;
  const max = o.max ?? Infinity;
  const expected = `a number${o.min !== undefined ? ` >= ${min}` : ''}${o.max !== undefined ? ` <= ${max}` : ''}`;
  return {
    expected,
    check: (v, p) => (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? ok(v) : fail(`${p} must be ${expected}, got ${show(v)}`)),
  };
}

export function bool(): Schema<boolean> {
  return { expected: 'true or false', check: (v, p) => (typeof v === 'boolean' ? ok(v) : fail(`${p} must be true or false, got ${show(v)}`)) };
}

export function oneOf<const V extends readonly string[]>(values: V): Schema<V[number]> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    expected,
    check: (v, p) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? ok(v as V[number]) : fail(`${p} must be ${expected}, got ${show(v)}`)),
  };
}

export function either<A, B>(a: Schema<A>, b: Schema<B>): Schema<A | B> {
  const expected = `${a.expected} or ${b.expected}`;
  return {
    expected,
    check: (v, p) => {
      const ra = a.check(v, p);
      if (ra.ok) return ra;
      const rb = b.check(v, p);
      return rb.ok ? rb : fail(`${p} must be ${expected}, got ${show(v)}`);
    },
  };
}

export function optional<T>(schema: Schema<T>): Optional<T> {
  return { optional: schema };
}

const isOptional = (f: Field): f is Optional<unknown> => 'optional' in f;
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object with exactly these fields (unknown fields are errors: a typo must not pass silently). */
export function obj<S extends Shape>(shape: S): Schema<InferShape<S>> {
  return {
    expected: 'an object',
    check: (v, p) => {
      if (!isPlainObject(v)) return fail(`${p} must be an object, got ${show(v)}`);
      for (const key of Object.keys(v)) {
        if (!Object.prototype.hasOwnProperty.call(shape, key)) {
          return fail(`${p} has an unknown field "${key.slice(0, 40)}" (known: ${Object.keys(shape).join(', ')})`);
        }
      }
      for (const [key, field] of Object.entries(shape)) {
        if (!isOptional(field) && v[key] === undefined) return fail(`${p}.${key} is missing: it must be ${field.expected}`);
      }
      // The fields in the value's own order, so that what is checked serialises as it came.
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        const field = shape[key];
        if (v[key] === undefined && isOptional(field)) continue;
        const r = (isOptional(field) ? field.optional : field).check(v[key], `${p}.${key}`);
        if (!r.ok) return r;
        out[key] = r.value;
      }
      return ok(out as InferShape<S>);
    },
  };
}

/** An array of at most `max` items, each checked by `item`. */
export function arrayOf<T>(item: Schema<T>, o: { max?: number } = {}): Schema<T[]> {
  const max = o.max ?? 1_000_000;
  const expected = `an array of at most ${max} items, each ${item.expected}`;
  return {
    expected,
    check: (v, p) => {
      if (!Array.isArray(v) || v.length > max) return fail(`${p} must be ${expected}, got ${show(v)}`);
      const out: T[] = [];
      for (let i = 0; i < v.length; i++) {
        const r = item.check(v[i], `${p}[${i}]`);
        if (!r.ok) return r;
        out.push(r.value);
      }
      return ok(out);
    },
  };
}

/** An object of at most `max` keys (each 1..200 characters), every value checked by `value` (e.g. metric name -> number). */
export function recordOf<T>(value: Schema<T>, o: { max?: number } = {}): Schema<Record<string, T>> {
  const max = o.max ?? 100;
  const expected = `an object of at most ${max} fields, each ${value.expected}`;
  return {
    expected,
    check: (v, p) => {
      if (!isPlainObject(v) || Object.keys(v).length > max) return fail(`${p} must be ${expected}, got ${show(v)}`);
      const out: Record<string, T> = {};
      for (const [key, item] of Object.entries(v)) {
        if (key.length === 0 || key.length > 200) return fail(`${p} has a field name of ${key.length} characters (1..200)`);
        const r = value.check(item, `${p}.${key}`);
        if (!r.ok) return r;
        out[key] = r.value;
      }
      return ok(out);
    },
  };
}

/** Exactly two items, each checked by `item` (e.g. AdamW's betas). */
export function pairOf<T>(item: Schema<T>): Schema<[T, T]> {
  const expected = `a list of two items, each ${item.expected}`;
  return {
    expected,
    check: (v, p) => {
      if (!Array.isArray(v) || v.length !== 2) return fail(`${p} must be ${expected}, got ${show(v)}`);
      const a = item.check(v[0], `${p}[0]`);
      if (!a.ok) return a;
      const b = item.check(v[1], `${p}[1]`);
      return b.ok ? ok([a.value, b.value] as [T, T]) : b;
    },
  };
}

/** null, or what `schema` accepts. */
export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  const expected = `${schema.expected} or null`;
  return { expected, check: (v, p) => (v === null ? ok(null) : schema.check(v, p)) };
}

/** One of several object schemas, chosen by the string in field `tag` (e.g. a message's `type`). */
export function tagged<V extends Record<string, Schema<unknown>>>(tag: string, variants: V): Schema<Infer<V[keyof V]>> {
  const names = Object.keys(variants);
  return {
    expected: `an object whose "${tag}" is one of ${names.join(', ')}`,
    check: (v, p) => {
      if (!isPlainObject(v)) return fail(`${p} must be an object, got ${show(v)}`);
      const t = v[tag];
      if (typeof t !== 'string' || !Object.prototype.hasOwnProperty.call(variants, t)) {
        return fail(`${p}.${tag} must be one of ${names.join(', ')}, got ${show(t)}`);
      }
      return variants[t].check(v, p) as ReturnType<Schema<Infer<V[keyof V]>>['check']>;
    },
  };
}
