/** The run config's schema table as a draft-07 JSON Schema. */
import { CONFIG_SCHEMA, type FieldSpec } from './configSchema.js';

/** A draft-07 JSON Schema of the run config (for editors' YAML support and external tools). */
export function toJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://inheritune.dev/schemas/run-config.json',
    title: 'Inheritune run config',
    ...fieldJsonSchema(CONFIG_SCHEMA),
  };
}

function fieldJsonSchema(s: FieldSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let description = s.doc;
  if (s.default === undefined && s.defaultText && !description.includes('Default:')) description += ` Default: ${s.defaultText}.`;
  out.description = description;
  switch (s.type) {
    case 'int':
    case 'number':
      out.type = s.type === 'int' ? 'integer' : 'number';
      if (s.min !== undefined) out[s.exclusiveMin ? 'exclusiveMinimum' : 'minimum'] = s.min;
      if (s.max !== undefined) out[s.exclusiveMax ? 'exclusiveMaximum' : 'maximum'] = s.max;
      break;
    case 'bool':
      out.type = 'boolean';
      break;
    case 'string':
    case 'path':
      out.type = 'string';
      if (s.type === 'path') out.minLength = 1;
      if (s.pattern) out.pattern = s.pattern;
      break;
    case 'enum':
      out.type = 'string';
      out.enum = [...(s.values ?? [])];
      break;
    case 'list':
      out.type = 'array';
      if (s.items) out.items = fieldJsonSchema(s.items);
      if (s.minItems !== undefined) out.minItems = s.minItems;
      if (s.maxItems !== undefined) out.maxItems = s.maxItems;
      if (s.unique) out.uniqueItems = true;
      break;
    case 'object': {
      out.type = 'object';
      const props: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(s.fields ?? {})) props[k] = fieldJsonSchema(f);
      out.properties = props;
      const required = Object.entries(s.fields ?? {}).filter(([, f]) => f.required).map(([k]) => k);
      if (required.length) out.required = required;
      out.additionalProperties = false;
      break;
    }
  }
  if (s.default !== undefined) out.default = structuredClone(s.default);
  return out;
}
