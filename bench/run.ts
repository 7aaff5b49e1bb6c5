// `npm run bench`: every benchmark, one command. Prints medians/percentiles and ratios against
// baselines run in the same process; the README's performance section quotes this output.
// `--quick` runs small sizes (a smoke run, not for quoting).
import { benchChatLatency, benchStorm, describeChatLatency, describeStorm } from './chat.js';
import { benchLatency, describeLatency } from './latency.js';
import { benchThroughput, describeThroughput } from './throughput.js';

const quick = process.argv.includes('--quick');
console.log(describeThroughput(benchThroughput(quick ? 20_000 : 100_000, quick ? 3 : 7)));
console.log();
console.log(describeLatency(await benchLatency(quick ? 40 : 200)));
console.log();
console.log(describeChatLatency(await benchChatLatency(quick ? 50 : 1_000)));
console.log();
console.log(describeStorm(await benchStorm(quick ? 1_000 : 10_000)));
if (process.argv.includes('--takeover')) await (await import('./takeover.js')).printTakeover(quick ? 3 : 20);
