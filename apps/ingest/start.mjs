/**
 * Starts the built service (dist/server.mjs) with the flags and environment of runtime.mjs, forwarding
 * SIGTERM / SIGINT to it and exiting as it exits. The allocator settings must be in the environment
 * before the process starts, hence a process of its own.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { NODE_FLAGS, serviceEnv } from './runtime.mjs';

const entry = path.join(import.meta.dirname, 'dist', 'server.mjs');
const child = spawn(process.execPath, [...NODE_FLAGS, entry, ...process.argv.slice(2)], { stdio: 'inherit', env: serviceEnv(process.env) });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
