// A promise settled from outside its executor, as the signature pass's
// workers deliver results out of order.

/** A promise with its resolve and reject, for a result that arrives from elsewhere. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T | Promise<T>): void;
  reject(reason: unknown): void;
}

/** A new Deferred; its rejection counts as handled (the caller surfaces it where it awaits). */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T | Promise<T>) => void, reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  quiet(promise);
  return { promise, resolve, reject };
}

/** Marks a promise's rejection as handled (it is surfaced elsewhere, or the pass was closed). */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
