// worker_threads entry: exposes the worker API over comlink.
import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { workerApi } from './worker-api.js';

expose(workerApi, nodeEndpoint(parentPort!));
