export * from './fake-slack.js';
export * from './harness.js';
export * from './manifest.js';
export * from './signing.js';
