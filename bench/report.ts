// Turns kernel measurements into the markdown table of docs/benchmarks.md,
// with each of issue 2's targets as a ratio to a peer from the same run.
// Targets use our kernels on input in kernel memory (allocInput, what the
// SDK's file reader gives them); the copied rows stay in the throughput table.
import type { Measurement } from './kernel-suite.js';

const OURS = 'deltaflare (SIMD, in kernel memory)';
/** [task, ours, peer task, peer, target ratio] */
const TARGETS: [string, string, string, string, number][] = [
  ['BLAKE3 one input', OURS, 'BLAKE3 one input', 'blake3-jit', 1.7],
  ['BLAKE3 one input', OURS, 'BLAKE3 one input', 'hash-wasm', 2.5],
  ['BLAKE3 * chunks', OURS, 'BLAKE3 * chunks', 'blake3-jit', 1.5],
  ['CRC32', OURS, 'CRC32', 'hash-wasm', 1.2],
  ['FastCDC-2020 cut points', OURS, 'CRC32', 'node zlib.crc32 (native)', 0.9],
  ['FastCDC + CRC32 (fused)', OURS, 'CRC32', 'node zlib.crc32 (native)', 0.5],
];

const find = (rows: Measurement[], task: string, who: string) =>
  rows.find((r) => (task.includes('*') ? r.task.startsWith(task.split('*')[0]) : r.task === task) && r.who === who);

/** The throughput table followed by the targets table. */
export function ratioTable(rows: Measurement[]): string {
  const lines = ['| task | implementation | MB/s |', '|---|---|---:|'];
  for (const r of rows) lines.push(`| ${r.task} | ${r.who} | ${r.mbPerSecond.toFixed(0)} |`);
  lines.push('', `Targets: ${OURS} vs each peer on the same bytes.`, '', '| target | ratio | goal | met |', '|---|---:|---:|---|');
  for (const [task, who, peerTask, peer, goal] of TARGETS) {
    const ours = find(rows, task, who);
    const theirs = find(rows, peerTask, peer);
    if (!ours || !theirs) continue;
    const ratio = ours.mbPerSecond / theirs.mbPerSecond;
    lines.push(
      `| ${task.replace('*', '~8 KiB')} vs ${peer} ${peerTask !== task ? `(${peerTask})` : ''} | ${ratio.toFixed(2)}x | >= ${goal}x | ${ratio >= goal ? 'yes' : 'no'} |`,
    );
  }
  return lines.join('\n');
}
