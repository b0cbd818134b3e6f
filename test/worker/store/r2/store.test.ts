// The shared store suite (test/worker/store/suite.ts) against R2Store inside a
// Durable Object, in workerd with its local R2.
import { storeSuite } from '../suite.js';
import { emptyBucket, sliceRandomValues, storeInObject } from '../../cloudflare/in-object.js';

sliceRandomValues();

let n = 0;
storeSuite('r2 + durable object', async () => ({ store: storeInObject(`suite-${n++}`), cleanup: emptyBucket }));
