// Waiting for SIGINT/SIGTERM to stop cleanly.
//
// Why `process.on` and not `once`: execa kills its children on exit through signal-exit, which
// re-raises a signal when it finds no other listener for it. A `once` listener removes itself
// before signal-exit looks (when signal-exit registered after it, i.e. after a child restarted),
// so the process died by SIGTERM instead of stopping cleanly. Our listeners stay until the end.

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of STOP_SIGNALS) process.on(signal, () => resolve(signal));
  });
}
