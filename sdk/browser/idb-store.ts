// Resume records in IndexedDB: structured clone keeps the typed arrays of a
// signature as they are (40 bytes per chunk, 320 KiB for 64 MiB at 8 KiB
// chunks), and the records outlive a closed tab or a reload.
import type { ResumeRecord, ResumeStore } from '../resume.js';

const DB = 'deltaflare';
const STORE = 'resume';

/** Resolves an IDBRequest. */
const done = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/**
 * A ResumeStore in this origin's IndexedDB (database "deltaflare", object store "resume").
 * @example await sync(file, { endpoint, key, resume: idbResumeStore() })
 */
export function idbResumeStore(name = DB): ResumeStore {
  let opened: Promise<IDBDatabase> | undefined;
  const db = () => {
    opened ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'id' });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return opened;
  };
  const tx = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> =>
    done(fn((await db()).transaction(STORE, mode).objectStore(STORE)));
  return {
    get: (id) => tx('readonly', (s) => s.get(id) as IDBRequest<ResumeRecord | undefined>),
    put: async (record) => void (await tx('readwrite', (s) => s.put(record))),
    delete: async (id) => void (await tx('readwrite', (s) => s.delete(id))),
    list: () => tx('readonly', (s) => s.getAll() as IDBRequest<ResumeRecord[]>),
  };
}
