// The benchmarks must keep working; their figures are read from `npm run bench`, never asserted.
import { describe, expect, it } from 'vitest';
import { benchLatency } from '../../bench/latency.js';
import { benchThroughput, syntheticStream } from '../../bench/throughput.js';
import { parseEvents2Line } from '../../src/drbd/events2.js';

describe('benchmarks', () => {
  it('feeds the throughput benchmark a stream the parser fully understands', () => {
    const stream = syntheticStream(2_000);
    expect(stream).toHaveLength(2_000);
    expect(stream.filter((l) => parseEvents2Line(l).type === 'error')).toEqual([]);
    const result = benchThroughput(2_000, 1);
    expect(result.lines).toBe(2_000);
    for (const rate of [result.baselinePerSecond, result.parsePerSecond, result.pipelinePerSecond]) {
      expect(rate).toBeGreaterThan(0);
    }
  });

  it('measures latency over the real simulator stream', async () => {
    const result = await benchLatency(5);
    expect(result.changes).toBe(5);
    expect(result.notificationP50Ms).toBeGreaterThanOrEqual(result.pipelineP50Ms);
  });
});
