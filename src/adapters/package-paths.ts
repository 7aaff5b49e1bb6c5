// Where the package's own files are, whether this code runs compiled (dist/src/…) or from source
// under the test runner (src/…): walk up to the directory holding package.json.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`drbd-chatops: no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The DRBD simulator's executable. */
export const SIMULATOR_BIN = join(PACKAGE_ROOT, 'bin', 'drbdsetup-sim');
