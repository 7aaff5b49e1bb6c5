// `npm run bench`: every benchmark, one command. Prints medians/percentiles and ratios against
// baselines run in the same process; the README's performance section quotes this output.
import { benchLatency, describeLatency } from './latency.js';
import { benchThroughput, describeThroughput } from './throughput.js';

const quick = process.argv.includes('--quick');
console.log(describeThroughput(benchThroughput(quick ? 20_000 : 100_000, quick ? 3 : 7)));
console.log();
console.log(describeLatency(await benchLatency(quick ? 40 : 200)));
