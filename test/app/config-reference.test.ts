// docs/configuration.md's reference table is generated from the zod schema and the example's
// comments; this test fails when the two drift apart. After a deliberate change to the schema or
// the example: UPDATE_DOCS=1 npx vitest run test/app/config-reference.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/app/config.js';
import { referenceRows, renderReference } from '../../src/app/config-reference.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DOC = resolve(ROOT, 'docs/configuration.md');
const EXAMPLE = readFileSync(resolve(ROOT, 'deploy/config.example.yaml'), 'utf8');
const BEGIN = '<!-- generated from the schema (src/app/config-reference.ts): do not edit by hand -->';
const END = '<!-- end of generated reference -->';

describe('the configuration reference', () => {
  it('docs/configuration.md carries the reference generated from the schema', () => {
    const doc = readFileSync(DOC, 'utf8');
    const generated = `${BEGIN}\n${renderReference(EXAMPLE)}\n${END}`;
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    if (process.env.UPDATE_DOCS === '1') {
      const next =
        start < 0
          ? `${doc.trimEnd()}\n\n${generated}\n`
          : doc.slice(0, start) + generated + doc.slice(end + END.length);
      writeFileSync(DOC, next);
      return;
    }
    expect(start, 'the generated block is missing: run with UPDATE_DOCS=1').toBeGreaterThanOrEqual(0);
    expect(doc.slice(start, end + END.length)).toBe(generated);
  });

  it('lists every section of the schema, and the example configuration is valid', () => {
    const paths = referenceRows(EXAMPLE).map((r) => r.path);
    for (const key of ['host', 'drbd.full', 'slack.mode', 'peer', 'policies', 'oncall', 'web'])
      expect(paths).toContain(key);
    expect(() => parseConfig(parse(EXAMPLE), 'deploy/config.example.yaml')).not.toThrow();
  });
});
