// createApp for Node (deltaflare/server): the endpoint app with the
// protections `deltaflare serve` has, in one call, for any embedding (a Hono
// app, Node's http, Express through a listener):
//   - the kernels loaded when not given (synchronously: Node compiles the
//     25 KB module in a few ms);
//   - the client of a request (open sessions per client) is its socket's
//     address, or X-Forwarded-For's last hop before `trustedProxies`;
//   - an endpoint open for writes (no access.token) answers only requests
//     naming a loopback host, or one of `allowedHosts`: a page on another
//     site could otherwise reach it by DNS rebinding;
//   - over an FsStore, bodies still arriving wait in a spool file in the
//     store's hidden folder, and a new session must fit the free disk.
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { checkOptions, type OptionKeys } from '../../core/base/options.js';
import { initSync, type Kernels } from '../../core/kernels/index.js';
import { type CreateAppOptions, createApp as createCoreApp, type Endpoint } from '../http/app.js';
import { FsStore } from '../store/fs/store.js';
import { META_DIR } from '../store/keys.js';
import { APP_HINTS, CREATE_APP_OPTIONS } from '../options.js';
import { openHosts } from '../http/hosts.js';
import { FsSpool } from './spool.js';

/** Options of `createApp` on Node: the endpoint's, the kernels optional, and who may be trusted or named. */
export type NodeAppOptions = Omit<CreateAppOptions, 'kernels'> & {
  /** The wasm kernels; loaded by default (`initKernels()`). */
  kernels?: Kernels;
  /** Host names (without port) an endpoint open for writes also answers, besides loopback ones. */
  allowedHosts?: string[];
  /** Addresses of reverse proxies in front of this server: their X-Forwarded-For names the client. Default none. */
  trustedProxies?: string[];
};

const NODE_APP_OPTIONS: OptionKeys<NodeAppOptions> = { ...CREATE_APP_OPTIONS, allowedHosts: true, trustedProxies: true };

/**
 * Builds the endpoint app with the protections above; every option is
 * checked now (an unknown one is an error listing the known ones).
 * @example app.route('/sync', createApp({ store: await FsStore.open('./data'), access: { token: process.env.TOKEN } }))
 */
export function createApp(opts: NodeAppOptions, endpoint?: Endpoint): ReturnType<typeof createCoreApp> {
  checkOptions('createApp', opts, NODE_APP_OPTIONS, APP_HINTS);
  const { allowedHosts, trustedProxies, ...core } = opts;
  const open = !core.access?.token;
  const fs = core.store instanceof FsStore ? core.store : undefined;
  return createCoreApp(
    {
      ...core,
      kernels: core.kernels ?? initSync(),
      clientId: core.clientId ?? clientAddress(new Set(trustedProxies ?? [])),
      allowedHost: core.allowedHost ?? (open ? openHosts(allowedHosts) : undefined),
      spool: core.spool ?? (fs ? FsSpool.at(join(fs.dir, META_DIR, 'spool')) : undefined),
      freeSpace: core.freeSpace ?? (fs ? () => statfs(fs.dir).then((s) => s.bavail * s.bsize) : undefined),
    },
    endpoint,
  );
}

/** The client of a request: the socket's address; behind trusted proxies, the last X-Forwarded-For hop that is not one. */
function clientAddress(trusted: Set<string>): (c: Context) => string {
  return (c) => {
    let address = '';
    try {
      address = getConnInfo(c).remote.address ?? '';
    } catch {
      return c.req.header('cf-connecting-ip') ?? ''; // not served by Node's http (app.request in tests)
    }
    if (!trusted.has(address)) return address;
    const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((h) => h.trim());
    for (let i = hops.length - 1; i >= 0; i--) if (hops[i] && !trusted.has(hops[i])) return hops[i];
    return address;
  };
}
