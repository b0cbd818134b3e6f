// A file-system facade for tests: logs the operations the fs store makes
// (paths relative to the store directory) and throws injected errors.
import { relative } from 'node:path';
import { type FsFacade, nodeFs } from '../../../../worker/store/fs/facade.js';

/** Decides whether an operation fails: return an error to throw it, undefined to let it run. */
export type FaultRule = (op: string, path: string) => Error | undefined;

/** An errno-style error like node:fs throws. */
export function errnoError(code: string, message = code): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** Wraps nodeFs; every call is logged as "op path" (rename: "rename from -> to"). */
export function faultyFs(root: string, log: string[], rule: FaultRule = () => undefined): FsFacade {
  const rel = (p: string) => relative(root, p) || '.';
  const gate = (op: string, path: string, shown = rel(path)) => {
    log.push(`${op} ${shown}`);
    const e = rule(op, rel(path));
    if (e) throw e;
  };
  return {
    open: async (path, flags, mode) => {
      gate('open', path);
      return nodeFs.open(path, flags, mode);
    },
    read: (f, buf, pos) => nodeFs.read(f, buf, pos),
    write: async (f, buf, pos) => {
      gate('write', f.path);
      return nodeFs.write(f, buf, pos);
    },
    truncate: async (f, len) => {
      gate('truncate', f.path);
      return nodeFs.truncate(f, len);
    },
    fsync: async (f) => {
      gate('fsync', f.path);
      return nodeFs.fsync(f);
    },
    fstat: (f) => nodeFs.fstat(f),
    close: (f) => nodeFs.close(f),
    fsyncDir: async (path) => {
      gate('fsyncDir', path);
      return nodeFs.fsyncDir(path);
    },
    rename: async (from, to) => {
      gate('rename', to, `${rel(from)} -> ${rel(to)}`);
      return nodeFs.rename(from, to);
    },
    unlink: async (path) => {
      gate('unlink', path);
      return nodeFs.unlink(path);
    },
    mkdir: async (path) => {
      gate('mkdir', path);
      return nodeFs.mkdir(path);
    },
    lstat: (path) => nodeFs.lstat(path),
    readdir: (path) => nodeFs.readdir(path),
    rmTree: (path) => nodeFs.rmTree(path),
  };
}

/** Replaces the random parts of store names so logs can be compared: st-<hex> -> st-*, keys/<hash> -> keys/*, .tmp-<hex> -> .tmp. */
export function normalize(line: string): string {
  return line
    .replace(/st-[0-9a-f]{32}/g, 'st-*')
    .replace(/keys\/[0-9a-f]{64}/g, 'keys/*')
    .replace(/v-[0-9a-f]{32}/g, 'v-*')
    .replace(/\.tmp-[0-9a-f]{12}/g, '.tmp');
}
