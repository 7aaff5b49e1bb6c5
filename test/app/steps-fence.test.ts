// The fence lock step: a call to the lock store, recorded as a lock call (not as a command): taken
// with its fencing token, given back, or refused with who holds it.
import { describe, expect, it } from 'vitest';
import { runAction, StepFailed } from '../../src/app/steps.js';
import { SimulatedContainers } from '../../src/sim/simulated-containers.js';
import { tempDir } from '../helpers/cleanup.js';
import { MemoryLockStore } from '../helpers/memory-lock.js';

describe('the fence lock step', () => {
  const setup = () => {
    const fences = new MemoryLockStore();
    const ports = { containers: new SimulatedContainers(tempDir('drbd-chatops-fence-'), 'beta'), fences };
    return { fences, ports };
  };

  it('takes the lock for the host and records the call with its fencing token', async () => {
    const { fences, ports } = setup();
    const runs = await runAction({ kind: 'fence-acquire', resource: 'r0', holder: 'beta' }, ports);
    const lease = await fences.read('r0');
    expect(lease.holder).toBe('beta');
    expect(runs).toEqual([
      {
        lock: { key: 'r0', op: 'acquire', holder: 'beta' },
        ok: true,
        token: lease.token,
        durationMs: expect.any(Number),
      },
    ]);
    const released = await runAction({ kind: 'fence-release', resource: 'r0', holder: 'beta' }, ports);
    expect(released).toEqual([
      { lock: { key: 'r0', op: 'release', holder: 'beta' }, ok: true, durationMs: expect.any(Number) },
    ]);
    expect((await fences.read('r0')).holder).toBeNull();
  });

  it('fails when another host holds it, saying who, and records the refused call', async () => {
    const { fences, ports } = setup();
    await fences.acquireOrRenew('r0', 'alpha', 60_000);
    const failure = await runAction({ kind: 'fence-acquire', resource: 'r0', holder: 'beta' }, ports).catch(
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(StepFailed);
    expect((failure as StepFailed).message).toBe('the fence lock of r0 is held by alpha');
    expect((failure as StepFailed).runs).toEqual([
      {
        lock: { key: 'r0', op: 'acquire', holder: 'beta' },
        ok: false,
        heldBy: 'alpha',
        durationMs: expect.any(Number),
      },
    ]);
    expect((await fences.read('r0')).holder).toBe('alpha');
  });

  it('fails plainly without a lock store', async () => {
    const { ports } = setup();
    await expect(
      runAction({ kind: 'fence-acquire', resource: 'r0', holder: 'beta' }, { containers: ports.containers }),
    ).rejects.toThrow('no lock store: the fence lock cannot be taken');
  });
});
