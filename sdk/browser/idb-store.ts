// Resume records in IndexedDB: they outlive a closed tab or a reload. Two
// object stores: "resume" holds the records (small, written as a push goes),
// "signatures" each file's signature (structured clone keeps its typed
// arrays: 40 bytes per chunk, 1.3 MB for 256 MiB at 8 KiB chunks), written
// once per signature pass instead of with every record write.
import type { ResumeRecord, ResumeStore, StoredSignature } from '../push/resume.js';

const DB = 'deltaflare';
const RECORDS = 'resume';
const SIGNATURES = 'signatures';
/** Version 2 keeps signatures apart; version 1's records (signature inside) are dropped on upgrade. */
const VERSION = 2;

/** Resolves an IDBRequest. */
const done = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/**
 * A ResumeStore in this origin's IndexedDB (database "deltaflare").
 * @example await sync(file, { endpoint, key, resume: idbResumeStore() })
 */
export function idbResumeStore(name = DB): ResumeStore {
  let opened: Promise<IDBDatabase> | undefined;
  const db = () => {
    opened ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(name, VERSION);
      request.onupgradeneeded = () => {
        const d = request.result;
        if (d.objectStoreNames.contains(RECORDS)) d.deleteObjectStore(RECORDS);
        d.createObjectStore(RECORDS, { keyPath: 'id' });
        if (!d.objectStoreNames.contains(SIGNATURES)) d.createObjectStore(SIGNATURES);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return opened;
  };
  const tx = async <T>(stores: string[], mode: IDBTransactionMode, fn: (t: IDBTransaction) => IDBRequest<T>): Promise<T> =>
    done(fn((await db()).transaction(stores, mode)));
  return {
    get: (id) => tx([RECORDS], 'readonly', (t) => t.objectStore(RECORDS).get(id) as IDBRequest<ResumeRecord | undefined>),
    put: async (record) => void (await tx([RECORDS], 'readwrite', (t) => t.objectStore(RECORDS).put(record))),
    delete: async (id) =>
      void (await tx([RECORDS, SIGNATURES], 'readwrite', (t) => {
        t.objectStore(SIGNATURES).delete(id);
        return t.objectStore(RECORDS).delete(id);
      })),
    list: () => tx([RECORDS], 'readonly', (t) => t.objectStore(RECORDS).getAll() as IDBRequest<ResumeRecord[]>),
    getSignature: (id) => tx([SIGNATURES], 'readonly', (t) => t.objectStore(SIGNATURES).get(id) as IDBRequest<StoredSignature | undefined>),
    putSignature: async (id, signature) => {
      const store = (t: IDBTransaction) => t.objectStore(SIGNATURES);
      if (signature) await tx([SIGNATURES], 'readwrite', (t) => store(t).put(signature, id));
      else await tx([SIGNATURES], 'readwrite', (t) => store(t).delete(id));
    },
  };
}
