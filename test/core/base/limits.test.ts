// The one limits module against the kernels' own constants: the FastCDC
// kernel traps (unreachable) on parameters outside its ranges, so each range
// edge in CDC_RANGES is probed on the raw wasm export of both builds.
import { describe, expect, it } from 'vitest';
import {
  bodyCaps,
  CDC_DEFAULTS,
  CDC_RANGES,
  DEFAULT_LIMITS,
  FIXED_BLOCK_MIN,
  resolveLimits,
  WIRE_LIMITS,
  WORKERS_BODY_CAP,
} from '../../../core/base/limits.js';
import { compileKernels } from '../../../core/kernels/index.js';
import { instantiate } from '../../../core/kernels/instance.js';
import { DEFAULT_CHUNKING } from '../../../core/protocol/chunking.js';
import { workersLimits } from '../../../worker/cloudflare/limits.js';

const builds = [true, false] as const;

describe('limits', () => {
  for (const simd of builds) {
    it(`should match the ${simd ? 'SIMD' : 'scalar'} FastCDC kernel's ranges: each edge accepted, one past it refused`, async () => {
      const k = await instantiate(compileKernels, simd);
      const config = (min: number, avg: number, max: number, level: number) => () => k.exports.fastcdcConfig(min, avg, max, level);
      const d = CDC_DEFAULTS;
      expect(config(d.min, d.avg, d.max, d.level)).not.toThrow();
      for (const [name, [lo, hi]] of Object.entries(CDC_RANGES)) {
        const at = (v: number) => {
          const p: Record<'min' | 'avg' | 'max' | 'level', number> = { ...d, [name]: v };
          // Keep avg <= max, which the kernel also requires, while probing one parameter.
          if (name === 'avg') p.max = CDC_RANGES.max[1];
          if (name === 'max') p.avg = Math.min(p.avg, v);
          return config(p.min, p.avg, p.max, p.level);
        };
        expect(at(lo), `${name} ${lo}`).not.toThrow();
        expect(at(hi), `${name} ${hi}`).not.toThrow();
        if (lo > 0) expect(at(lo - 1), `${name} ${lo - 1}`).toThrow(WebAssembly.RuntimeError);
        expect(at(hi + 1), `${name} ${hi + 1}`).toThrow(WebAssembly.RuntimeError);
      }
    });
  }

  it('should keep the wire caps, defaults and chunkings consistent with each other', () => {
    expect(WIRE_LIMITS.maxChunkLength).toBe(CDC_RANGES.max[1]);
    expect(DEFAULT_CHUNKING).toEqual({ kind: 'cdc', ...CDC_DEFAULTS });
    expect(FIXED_BLOCK_MIN).toBeGreaterThanOrEqual(CDC_RANGES.min[0]);
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    // A literal chunk never spans parts: the default part holds the largest default chunk.
    expect(DEFAULT_LIMITS.partSize).toBeGreaterThanOrEqual(CDC_DEFAULTS.max);
    expect(() => resolveLimits({ partSize: CDC_RANGES.max[0] - 1 })).toThrow(/limits\.partSize/);
    expect(() => resolveLimits({ maxPlanOps: WIRE_LIMITS.maxPlanOps + 1 })).toThrow(/limits\.maxPlanOps/);
  });

  it('should keep every body under the Workers 100 MB request cap, even at the largest limits the wire format allows', () => {
    for (const n of Object.values(bodyCaps(workersLimits()))) expect(n).toBeLessThan(WORKERS_BODY_CAP);
    const widest = {
      partSize: WIRE_LIMITS.maxPartBytes,
      maxPartOps: WIRE_LIMITS.maxPartOps,
      maxPlanOps: WIRE_LIMITS.maxPlanOps,
      maxSignaturesPerBatch: WIRE_LIMITS.maxBatch,
    };
    for (const n of Object.values(bodyCaps(workersLimits(JSON.stringify(widest))))) expect(n).toBeLessThan(WORKERS_BODY_CAP);
  });
});
