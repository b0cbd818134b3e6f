// R2 traffic of the Worker, for benchmarks: with the variable
// DELTAFLARE_R2_STATS = "true" the bucket is wrapped to count calls and
// bytes, and each request (and each alarm) prints one line when it ends:
//   deltaflare-r2 {"what":"PUT /v1/sessions/…/parts/3","calls":2,"isolate":"k3f…","read":0,"written":420…}
// Calls made while several requests of one isolate are open count for each
// of them, so `calls` is an upper bound per request. `read` and `written`
// are the isolate's running totals (bytes cannot be told apart between
// overlapping requests; the difference of two lines' totals is exact): bytes
// read are the ranges asked for (the whole object without a range), bytes
// written the size of each object put or completed (multipart parts count
// at completion).
// Off by default: a proxy per R2 call costs nothing worth keeping in production.

/** The R2 calls of one request or alarm. */
interface Tally {
  what: string;
  calls: number;
}

/** Counts the R2 calls of the requests open in one isolate, and its bytes. */
export class R2Stats {
  private readonly open = new Set<Tally>();
  private readonly isolate = Math.random().toString(36).slice(2, 10);
  private read = 0;
  private written = 0;

  /** Starts counting for `what`; call the answer when it ends to print its line. */
  begin(what: string): () => void {
    const t: Tally = { what, calls: 0 };
    this.open.add(t);
    return () => {
      if (!this.open.delete(t)) return;
      console.log(`deltaflare-r2 ${JSON.stringify({ ...t, isolate: this.isolate, read: this.read, written: this.written })}`);
    };
  }

  private add(field: 'calls' | 'read' | 'written', n: number): void {
    if (field === 'calls') for (const t of this.open) t.calls += n;
    else this[field] += n;
  }

  /** `bucket` with every call counted. */
  wrap(bucket: R2Bucket): R2Bucket {
    const count = (name: string, args: unknown[], result: unknown): unknown => {
      this.add('calls', 1);
      if (name === 'get')
        return (result as Promise<R2ObjectBody | null>).then((o) => {
          const range = (args[1] as R2GetOptions | undefined)?.range as { length?: number } | undefined;
          if (o) this.add('read', range?.length ?? o.size);
          return o;
        });
      if (name === 'put')
        return (result as Promise<R2Object | null>).then((o) => {
          if (o) this.add('written', o.size);
          return o;
        });
      if (name === 'createMultipartUpload') return (result as Promise<R2MultipartUpload>).then((u) => this.upload(u));
      if (name === 'resumeMultipartUpload') return this.upload(result as R2MultipartUpload);
      return result;
    };
    return new Proxy(bucket, {
      get(target, name) {
        const v = Reflect.get(target, name);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => count(String(name), args, v.apply(target, args));
      },
    });
  }

  private upload(u: R2MultipartUpload): R2MultipartUpload {
    return new Proxy(u, {
      get: (target, name) => {
        const v = Reflect.get(target, name);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          this.add('calls', 1);
          const r = v.apply(target, args);
          if (name !== 'complete') return r;
          return (r as Promise<R2Object>).then((o) => {
            this.add('written', o.size);
            return o;
          });
        };
      },
    });
  }
}

/** The isolate's counter when the variable is set, else null. */
let stats: R2Stats | null | undefined;
export function r2Stats(env: { DELTAFLARE_R2_STATS?: string }): R2Stats | null {
  stats ??= env.DELTAFLARE_R2_STATS === 'true' ? new R2Stats() : null;
  return stats;
}

/** `res` whose body ends the tally when it has been read (a GET's reads happen while it streams). */
export function endWithBody(res: Response, end: () => void): Response {
  if (!res.body) {
    end();
    return res;
  }
  const body = res.body.pipeThrough(new TransformStream({ flush: end }));
  void body; // ended by flush, or never if the client goes away (then the line is missing, not wrong)
  return new Response(body, res);
}
