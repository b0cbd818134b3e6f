// comlink ships its Node adapter as .mjs with a .d.ts that TypeScript's
// NodeNext resolution does not pair with it; this restates its one export.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  interface NodeEndpoint {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the adapter forwards whatever transfer list the port takes
    postMessage(message: unknown, transfer?: unknown): void;
    on(type: string, listener: (value: unknown) => void): void;
    off(type: string, listener: (value: unknown) => void): void;
    start?: () => void;
  }
  export default function nodeEndpoint(nep: NodeEndpoint): Endpoint;
}
