// npm run bench: the kernels' single-thread throughput table on Node, with
// the targets of issue 2 as ratios to peers measured in the same run.
// Options: --size MiB (default 256), --runs N (default 5), --json FILE, --cpu (time
// by this process's CPU time instead of wall time: steadier on a shared machine,
// and fair here since every contender runs on this one thread).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { type Measurement, runKernelSuite } from './kernel-suite.js';
import { ratioTable } from './report.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, runs: { type: 'string' }, json: { type: 'string' }, cpu: { type: 'boolean' } } });
const size = Number(values.size ?? 256) << 20;
const results: Measurement[] = await runKernelSuite({
  size,
  runs: Number(values.runs ?? 5),
  crcPeers: { 'node zlib.crc32 (native)': (b) => zlib.crc32(b) },
  log: (line) => process.stderr.write(`${line}\n`),
  clock: values.cpu ? cpuMs : undefined,
});
console.log(`Node ${process.version}, ${cpus()[0].model}, ${size >> 20} MiB random input, single thread, ${values.cpu ? 'CPU' : 'wall'} time\n`);
console.log(ratioTable(results));
if (values.json) writeFileSync(values.json, JSON.stringify({ runtime: `node ${process.version}`, size, results }, null, 2));

/** This process's user + system CPU time, ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
