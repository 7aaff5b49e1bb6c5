// `npm run bench`: every benchmark, one command. Prints medians and ratios against baselines run in
// the same process; the README's performance section quotes this output.
import { benchThroughput, describeThroughput } from './throughput.js';

const quick = process.argv.includes('--quick');
console.log(describeThroughput(benchThroughput(quick ? 20_000 : 100_000, quick ? 3 : 7)));
