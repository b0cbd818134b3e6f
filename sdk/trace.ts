// User Timing around the pipeline's stages: each stage of a push becomes a
// `performance.measure` named "deltaflare:<stage>" (session, signatures,
// part <n>, plan, commit), visible in a browser's performance panel and read
// by bench/browser-sync.ts to say where a push's time went. A few entries per
// part; none per chunk.

/** Starts a stage; the returned function ends it (and may be called once). */
export function stage(name: string): () => void {
  const start = performance.now();
  return () => {
    performance.measure(`deltaflare:${name}`, { start, end: performance.now() });
  };
}
