// Worker threads start without the main thread's TypeScript loader: register it, then load the worker.
import { register } from 'tsx/esm/api';

register();
await import('./pipeline.worker.ts');
