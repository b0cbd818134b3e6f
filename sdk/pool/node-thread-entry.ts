// worker_threads entry: exposes the worker API over comlink, reading files by path with positional reads.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { setPathReader, setPathWriter, threadApi } from './thread-api.js';

// Synchronous reads: this thread has nothing else to do meanwhile, and a
// segment comes from the page cache in ~2 ms (8 MiB). Opened per segment so
// no descriptor outlives a pass (one open + close is ~20 us).
setPathReader((path, offset, target) => {
  const fd = openSync(path, 'r');
  try {
    for (let done = 0; done < target.length; ) {
      const n = readSync(fd, target, done, target.length - done, offset + done);
      if (n === 0) throw new Error(`${path} shrank while being read (at ${offset + done}, expected ${offset + target.length} bytes)`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
});

// A pull's output, opened once per run of segments; chunks written at their offsets in the version.
setPathWriter((path) => {
  const fd = openSync(path, 'r+');
  return {
    write(bytes, offset) {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
    },
    close: () => closeSync(fd),
  };
});

expose(threadApi, nodeEndpoint(parentPort!));
