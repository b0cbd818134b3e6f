// deltaflare/server: the endpoint as a library for Node. `createApp` is a Hono
// app to mount in your own (`app.route('/sync', createApp(...))`) or serve
// yourself; `serve` starts the whole server as `deltaflare serve` does.
export { Endpoint, ApiError, type AppOptions, type CreateAppOptions } from '../http/app.js';
export { createApp, type NodeAppOptions } from './app.js';
export { serve, type ServeOptions, type ServeHandle } from './serve.js';
export { guardConnections, type ConnectionLimits } from './connections.js';
export { FsStore, type FsStoreOptions } from '../store/fs/store.js';
export { MemoryStore } from '../store/memory.js';
export type { Store, Staging, SessionRecord, VersionInfo } from '../store/store.js';
export type { AccessOptions } from '../options.js';
export type { CommitEvent, Hooks, Refusal, SessionCreateEvent, SessionExpireEvent } from '../hooks.js';
export type { Metadata } from '../../core/protocol/metadata.js';
export { init as initKernels, initSync as initKernelsSync, type Kernels } from '../../core/kernels/index.js';
export { signUploadToken } from '../../core/protocol/upload-token.js';
export { DEFAULT_LIMITS, type Limits } from '../../core/base/limits.js';
