// The limits of the hostile-client suites (test/hostile-cases.ts): small, so
// an oversized body is a few KiB and a 300 KiB file spans several parts.
// The Node suite passes them to createApp, the workerd one as the LIMITS
// variable (vitest.workers.config.ts); no imports, so the config can load it.

export const HOSTILE_LIMITS = {
  maxFileSize: 1 << 20,
  partSize: 64 * 1024,
  maxPartOps: 4,
  maxSignaturesPerBatch: 100,
  maxPlanOps: 10,
  // A 300 KiB file: ~38 chunks at 8 KiB, 300 fixed blocks of 1 KiB, 4,800 of 64 bytes.
  maxManifestChunks: 1000,
  maxChunkingsPerVersion: 3,
  // Three files of maxFileSize open at once per client.
  maxStagedBytesPerClient: 3 << 20,
} as const;
