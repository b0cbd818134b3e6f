// The page side of bench/browser-signatures.ts: the signature pass over a
// picked File (read with Blob.slice, as the demo does) with pools of 1, 2 and
// 4 module Web Workers. Bundled by esbuild; the worker entry is served as
// /pool-worker.js. (A Blob built in memory from 128 MiB of pieces fails its
// later reads with NotReadableError in headless Chromium, so the input is a
// file on disk set through <input type=file>.)
import { createBrowserPool } from '../sdk/pool/browser-pool.js';
import { DEFAULT_CHUNKING } from '../sdk/protocol/chunking.js';
import { signatures } from '../sdk/signatures.js';
import { blobSource } from '../sdk/source.js';

export interface SignatureRow {
  workers: number;
  /** MB/s (10^6 bytes) of each timed run. */
  runs: number[];
  chunks: number;
}

async function bench(runs: number, counts: number[]): Promise<SignatureRow[]> {
  const blob = (document.getElementById('file') as HTMLInputElement).files![0];
  const size = blob.size;
  const rows: SignatureRow[] = [];
  for (const workers of counts) {
    const pool = await createBrowserPool(workers, () => new Worker('/pool-worker.js', { type: 'module' }));
    const row: SignatureRow = { workers, runs: [], chunks: 0 };
    try {
      for (let r = -1; r < runs; r++) { // run -1 warms up the JIT and the Blob's backing store
        const t0 = performance.now();
        let chunks = 0;
        for await (const b of signatures(blobSource(blob), { chunking: DEFAULT_CHUNKING, pool })) chunks += b.lengths.length;
        const seconds = (performance.now() - t0) / 1000;
        if (r >= 0) row.runs.push(size / seconds / 1e6);
        row.chunks = chunks;
        console.log(`${workers} workers, run ${r}: ${(size / seconds / 1e6).toFixed(0)} MB/s`);
      }
    } finally {
      pool.terminate();
    }
    rows.push(row);
  }
  return rows;
}

(window as unknown as { bench: typeof bench }).bench = bench;
