// The configuration reference in docs/configuration.md, generated from the zod schema itself (so a
// key can never be documented with a type or default it does not have) and from the comments of
// the annotated example, deploy/config.example.yaml (so the prose has one home). A test compares
// the generated text with the file; `UPDATE_DOCS=1 npx vitest run test/app/config-reference.test.ts`
// rewrites it after a deliberate change.

import { hostname } from 'node:os';
import { isMap, isPair, isScalar, type Pair, parseDocument } from 'yaml';
import { z } from 'zod';
import { configSchema } from './config.js';

interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly pattern?: string;
  readonly format?: string;
}

export interface ReferenceRow {
  readonly path: string;
  readonly type: string;
  readonly default: string;
  readonly description: string;
}

/** Comments of the example file, by key path ("drbd.full"): the lines just above each key. */
export function exampleComments(yamlText: string): Map<string, string> {
  const found = new Map<string, string>();
  // The yaml parser gives a map's first key's comment to the map itself, and the file's header
  // comment to the first key: a key's comment is the last paragraph before it.
  const paragraph = (comment: string | null | undefined): string =>
    (comment ?? '')
      .split(/\n\s*\n/)
      .at(-1)
      ?.split('\n')
      .map((l) => l.trim())
      // A commented-out key ("botTokenFile: /etc/…") is an example, not prose.
      .filter((l) => !/^[A-Za-z][\w.-]*:(\s|$)|^- /.test(l))
      .join(' ')
      .trim() ?? '';
  const walk = (node: unknown, prefix: string): void => {
    if (!isMap(node)) return;
    (node.items as Pair[]).forEach((item, index) => {
      if (!isPair(item) || !isScalar(item.key)) return;
      const path = prefix === '' ? String(item.key.value) : `${prefix}.${String(item.key.value)}`;
      const comment = paragraph(item.key.commentBefore) || (index === 0 ? paragraph(node.commentBefore) : '');
      if (comment !== '') found.set(path, comment);
      walk(item.value, path);
    });
  };
  walk(parseDocument(yamlText).contents, '');
  return found;
}

function typeOf(s: JsonSchema): string {
  if (s.enum !== undefined) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const variants = s.anyOf ?? s.oneOf;
  if (variants !== undefined) return variants.map(typeOf).join(' or ');
  const type = Array.isArray(s.type) ? s.type.join(' or ') : (s.type as string | undefined);
  if (type === 'array') return `list of ${s.items === undefined ? 'values' : typeOf(s.items)}`;
  if (type === 'object' && s.properties === undefined && typeof s.additionalProperties === 'object')
    return `map of ${typeOf(s.additionalProperties)}`;
  const bounds: string[] = [];
  if (s.minimum !== undefined && s.maximum !== undefined) bounds.push(`${s.minimum}–${s.maximum}`);
  else if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
  if (s.format === 'uri') bounds.push('URL');
  return [type ?? 'value', ...bounds].join(' ');
}

function defaultOf(s: JsonSchema): string {
  if (s.default === undefined) return '';
  // Defaults computed on this machine (the host name) are shown as what they mean.
  if (s.default === hostname()) return "the machine's host name";
  const text = JSON.stringify(s.default);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** Every key of the configuration, depth first, in the schema's order. */
export function referenceRows(yamlText: string): ReferenceRow[] {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const comments = exampleComments(yamlText);
  const rows: ReferenceRow[] = [];
  const walk = (s: JsonSchema, path: string): void => {
    const object = s.properties ?? s.anyOf?.find((v) => v.properties !== undefined)?.properties;
    if (path !== '') {
      rows.push({
        path,
        type: object !== undefined ? 'section' : typeOf(s),
        default: object !== undefined ? '' : defaultOf(s),
        description: comments.get(path) ?? '',
      });
    }
    if (object === undefined) {
      const items = s.items?.properties;
      if (items !== undefined) for (const [k, v] of Object.entries(items)) walk(v, `${path}[].${k}`);
      const values =
        typeof s.additionalProperties === 'object' ? s.additionalProperties.properties : undefined;
      if (values !== undefined) for (const [k, v] of Object.entries(values)) walk(v, `${path}.<name>.${k}`);
      return;
    }
    for (const [key, child] of Object.entries(object)) walk(child, path === '' ? key : `${path}.${key}`);
  };
  walk(schema, '');
  return rows;
}

export function renderReference(yamlText: string): string {
  const cell = (t: string) => t.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = ['| key | type | default | what it is |', '| --- | --- | --- | --- |'];
  for (const row of referenceRows(yamlText)) {
    const type = row.type.includes('\\|') ? row.type : cell(row.type);
    lines.push(
      `| \`${row.path}\` | ${type} | ${row.default === '' ? '' : `\`${cell(row.default)}\``} | ${cell(row.description)} |`,
    );
  }
  return lines.join('\n');
}
