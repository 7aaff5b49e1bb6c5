import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `system` drives real parts
// (Debian's drbdadm, …) that .ci/run installs first.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/system/**'],
          // Some unit-project tests run the real binaries as child processes.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
