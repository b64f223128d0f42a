/**
 * Starting and stopping local servers for the launcher and the tests: free ports, health polling, and
 * process groups so that stopping a service also stops everything it spawned.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import net from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when something accepts connections on the port: a stale server would fool a health check. */
export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForHttp(
  url: string,
  options: { timeoutMs?: number; intervalMs?: number; ok?: (status: number) => boolean; exited?: () => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const ok = options.ok ?? ((status) => status >= 200 && status < 300);
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    if (options.exited?.()) throw new Error(`the process serving ${url} exited before it was ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (ok(response.status)) return;
      lastError = `status ${response.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
  throw new Error(`${url} was not ready in time (${lastError})`);
}

export interface Service {
  name: string;
  child: ChildProcess;
  exited: boolean;
  exitCode: number | null;
  stop(timeoutMs?: number): Promise<void>;
}

/** Spawns a command in its own process group; stop() sends SIGTERM to the group, then SIGKILL. */
export function spawnService(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { onExit?: (code: number | null, signal: NodeJS.Signals | null) => void } = {},
): Service {
  const child = spawn(command, args, { stdio: 'inherit', ...options, detached: true });
  const service: Service = {
    name,
    child,
    exited: false,
    exitCode: null,
    async stop(timeoutMs = 15_000) {
      if (service.exited || child.pid === undefined) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && signalGroup(child.pid, 'SIGKILL'), timeoutMs);
      await gone;
      clearTimeout(timer);
      // Children that outlived the leader still belong to the group.
      signalGroup(child.pid, 'SIGKILL');
    },
  };
  child.on('exit', (code, signal) => {
    service.exited = true;
    service.exitCode = code;
    options.onExit?.(code, signal);
  });
  return service;
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs a command to completion, inheriting output; rejects on a non-zero exit. */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}`)),
    );
  });
}
