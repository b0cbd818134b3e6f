// Runs the kernel suite inside a module Web Worker (bundled by bench/kernels-browser.ts).
import { runKernelSuite } from './kernel-suite.js';

self.onmessage = async (event: MessageEvent<{ size: number; runs: number }>) => {
  try {
    const results = await runKernelSuite({
      ...event.data,
      log: (line) => self.postMessage({ log: line }),
    });
    self.postMessage({ results });
  } catch (e) {
    self.postMessage({ error: String((e as Error)?.stack ?? e) });
  }
};
