// The page's files (./browser/: app.js, login.js, app.css), read once and kept in memory: they are
// small, and a console that starts without them should say so at start, not on a later request.
//
// Where they are: beside this module when it runs from src/ (the tests, tsx) or from tsc's dist/src/.
// In the bundled CLI (dist/cli/, see rolldown.config.mjs) this code is elsewhere, so the package's
// dist/src/ copy is looked up: the scripts are there because tsc emits them (allowJs), the style sheet
// because `npm run build` copies it. A dist/ built by `tsc` alone in a checkout has no style sheet,
// so the source tree's is used then (the same file the copy would have been).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hexColour, TONE_COLOURS, type Tone } from '../../core/message-tones.js';
import { PACKAGE_ROOT } from '../package-paths.js';

export interface ConsoleAssets {
  readonly appJs: string;
  readonly loginJs: string;
  /** The tone colours (from core/message-tones.ts), then browser/app.css. */
  readonly appCss: string;
}

/** The page's source folder, from the package root. */
const BROWSER_DIR = join('src', 'adapters', 'web-console', 'browser');

const FILES = { appJs: 'app.js', loginJs: 'login.js', appCss: 'app.css' } as const;

let loaded: ConsoleAssets | undefined;

function locate(name: string): string {
  const beside = fileURLToPath(new URL(`./browser/${name}`, import.meta.url));
  const candidates = [
    beside,
    join(PACKAGE_ROOT, 'dist', BROWSER_DIR, name),
    join(PACKAGE_ROOT, BROWSER_DIR, name),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined)
    throw new Error(
      `web console: its page file ${name} is missing (looked in ${[...new Set(candidates)].join(', ')}); run npm run build`,
    );
  return found;
}

/** The colour of each tone as a CSS custom property, so the page and the chat renderers agree. */
function toneCss(): string {
  return (Object.keys(TONE_COLOURS) as Tone[])
    .map((tone) => `.tone-${tone} { --tone: ${hexColour(tone)}; }`)
    .join('\n');
}

/** The page's files; the first call reads them (and throws, naming the file, if one is missing). */
export function consoleAssets(): ConsoleAssets {
  if (loaded === undefined) {
    const read = (name: string) => readFileSync(locate(name), 'utf8');
    loaded = {
      appJs: read(FILES.appJs),
      loginJs: read(FILES.loginJs),
      appCss: `${toneCss()}\n${read(FILES.appCss)}`,
    };
  }
  return loaded;
}
