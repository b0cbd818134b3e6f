import { MemoryStore } from '../../../worker/store/memory.js';
import { storeSuite } from './suite.js';

storeSuite('memory', async () => ({ store: new MemoryStore(), cleanup: async () => undefined }));
