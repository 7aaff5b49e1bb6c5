// Cleanup after each test: whatever a test starts (servers, daemons, temp directories) it registers
// here, and it is undone after the test in reverse order, also when the test failed. Vitest runs each
// test file in its own module graph, so every file that imports this gets its own afterEach.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

type Step = () => Promise<void> | void;
const steps: Step[] = [];

afterEach(async () => {
  for (let step = steps.pop(); step !== undefined; step = steps.pop()) await step();
});

export function onCleanup(step: Step): void {
  steps.push(step);
}

/** A fresh directory under the system's temp dir, removed after the test. */
export function tempDir(prefix = 'drbd-chatops-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
