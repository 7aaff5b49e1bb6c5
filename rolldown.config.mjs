// The CLI as one bundle (dist/cli/), built from tsc's output by `npm run build`. Why: loading the
// ~90 compiled modules and the packages they import (execa, zod, yaml, pino, prom-client), file by
// file, took ~300 ms of a daemon's ~550 ms start-up; as one bundle it takes ~130 ms
// (bench/footprint.ts, docs/performance.md). Left outside, loaded from node_modules when used:
// - the chat libraries, the etcd client and fastify: loaded only when configured (src/app/platforms.ts,
//   src/app/lock-store.ts), so a daemon with one platform never reads the others;
// - node-cron: it forks its own daemon file for background tasks;
// - pino-pretty: required only for a terminal (src/app/log.ts).
import { defineConfig } from 'rolldown';

export default defineConfig({
  input: { 'drbd-chatops': 'dist/src/cli/main.js' },
  platform: 'node',
  external: [
    /^node:/,
    /^@slack\//,
    'discord.js',
    /^@discordjs\//,
    'etcd3',
    /^@grpc\//,
    'fastify',
    /^@fastify\//,
    'node-cron',
    'pino-pretty',
  ],
  output: {
    dir: 'dist/cli',
    format: 'esm',
    entryFileNames: '[name].mjs',
    chunkFileNames: '[name]-[hash].mjs',
    // Smaller sources load faster and hold less memory; names are kept, so a stack trace in the
    // log still says which function failed.
    minify: { compress: true, mangle: false },
    cleanDir: true,
  },
  logLevel: 'warn',
});
