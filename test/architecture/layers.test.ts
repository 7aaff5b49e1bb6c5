// The layers of docs/architecture.md, checked over the real import graph (TypeScript's own import
// scanner, so `import type`, `export … from` and dynamic `import()` all count). A rule broken here
// is a layer eroding: move the type or the code to where the picture says it belongs.
//
//   cli / entry point ──► app ──► commands/ (passed in, chosen once)
//          │               │
//          ▼               ▼
//     sim + demo     adapters ──► ports ◄── core ──► drbd
//
// core = src/core, src/drbd, src/render (pure); ports own the types both sides share.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

type Layer = 'drbd' | 'core' | 'render' | 'ports' | 'adapters' | 'app' | 'commands' | 'cli' | 'sim' | 'demo';

/** Which layer a file belongs to (null: outside the checked tree, e.g. node_modules). */
function layerOf(file: string): Layer | null {
  const rel = relative(ROOT, file).replaceAll('\\', '/');
  if (rel.startsWith('commands/demo')) return 'demo';
  if (rel.startsWith('commands/')) return 'commands';
  const m = /^src\/([a-z-]+)\//.exec(rel);
  if (m === null) return null;
  if (/^src\/app\/demo|^src\/app\/tour/.test(rel)) return 'demo';
  const dir = m[1] as string;
  return (['drbd', 'core', 'render', 'ports', 'adapters', 'app', 'cli', 'sim'] as const).includes(
    dir as Layer & string as never,
  )
    ? (dir as Layer)
    : null;
}

/** What each layer may import (besides itself and packages). */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  drbd: [],
  core: ['drbd', 'ports'],
  render: ['core', 'drbd', 'ports'],
  ports: [],
  adapters: ['ports', 'core', 'drbd', 'render'],
  commands: ['ports', 'core', 'drbd', 'render', 'app'],
  app: ['adapters', 'ports', 'core', 'drbd', 'render'],
  // The entry point composes: it chooses the commands and may start the demo.
  cli: ['app', 'adapters', 'ports', 'core', 'drbd', 'render', 'commands', 'demo', 'sim'],
  sim: ['ports', 'core', 'drbd'],
  demo: ['sim', 'app', 'adapters', 'ports', 'core', 'drbd', 'render', 'commands'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every relative import of the file, resolved to a .ts path. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name.replace(/\.js$/, '.ts')));
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'commands'))]) {
    const from = layerOf(file);
    if (from === null) continue;
    for (const target of importsOf(file)) {
      const to = layerOf(target);
      if (to === null || to === from || ALLOWED[from].includes(to)) continue;
      found.push(`${relative(ROOT, file)} (${from}) imports ${relative(ROOT, target)} (${to})`);
    }
  }
  return found.sort();
}

describe('the layers hold', () => {
  it('no file imports a layer its own may not depend on', () => {
    expect(violations()).toEqual([]);
  });

  it('the checker sees a broken rule (an adapter importing the application layer)', () => {
    const adapter = join(ROOT, 'src/adapters/outbox.ts');
    expect(layerOf(adapter)).toBe('adapters');
    expect(ALLOWED.adapters.includes('app')).toBe(false);
    expect(layerOf(join(ROOT, 'src/app/demo-pair.ts'))).toBe('demo');
    expect(layerOf(join(ROOT, 'commands/demo.ts'))).toBe('demo');
  });
});
