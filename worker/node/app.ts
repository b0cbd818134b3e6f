// createApp for Node (deltaflare/server): the endpoint app with the kernels
// loaded when not given (synchronously: Node compiles the 25 KB module in a
// few ms), so `createApp({ store })` is all an embedding needs.
import { initSync, type Kernels } from '../../sdk/kernels/index.js';
import { type CreateAppOptions, createApp as createCoreApp, type Endpoint } from '../app.js';

/** Options of `createApp` on Node: the endpoint's, the kernels optional. */
export type NodeAppOptions = Omit<CreateAppOptions, 'kernels'> & { kernels?: Kernels };

/**
 * Builds the endpoint app; every option is checked now (an unknown one is an
 * error listing the known ones), and the kernels load if not given.
 * @example app.route('/sync', createApp({ store: await FsStore.open('./data'), access: { token: process.env.TOKEN } }))
 */
export function createApp(opts: NodeAppOptions, endpoint?: Endpoint): ReturnType<typeof createCoreApp> {
  const given = opts as Partial<CreateAppOptions> | undefined;
  return createCoreApp(
    given && typeof given === 'object' && !given.kernels ? ({ ...given, kernels: initSync() } as CreateAppOptions) : (given as CreateAppOptions),
    endpoint,
  );
}
