/**
 * Several Sluice replicas behind nginx on this machine, for the replicas test and bench: ingest replicas
 * on fixed ports (one killed can be started again where the load balancer expects it), consoles when asked
 * for, and nginx running deploy/nginx/sluice.conf with this set's addresses in place of the example's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, spawnService, waitForHttp, type Service } from '@sluice/testkit';
import { NODE_FLAGS, serviceEnv } from '../../apps/ingest/runtime.mjs';

const root = path.resolve(import.meta.dirname, '../..');

export interface ReplicaSetOptions {
  databaseUrl: string;
  adminToken: string;
  /** The ingest replicas' environment besides their database, token and ports (the store, ClickHouse, leases). */
  ingestEnv: Record<string, string>;
  /** Two consoles too, with these operator credentials (created at their start). */
  consoles?: { email: string; password: string; sessionSecret: string };
}

export class ReplicaSet {
  readonly ports = { ingest: [0, 0], flight: [0, 0], console: [0, 0], lbIngest: 0, lbFlight: 0, lbConsole: 0 };
  private readonly services: Service[] = [];
  private readonly work = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-replicas-'));

  private constructor(private readonly options: ReplicaSetOptions) {}

  /** Two ingest replicas (`ingest-a`, `ingest-b`), nginx, and the consoles when asked for, all answering. */
  static async start(options: ReplicaSetOptions): Promise<ReplicaSet> {
    const set = new ReplicaSet(options);
    const { ports } = set;
    for (const name of ['lbIngest', 'lbFlight', 'lbConsole'] as const) ports[name] = await freePort();
    for (const i of [0, 1]) {
      ports.ingest[i] = await freePort();
      ports.flight[i] = await freePort();
      ports.console[i] = await freePort();
    }
    try {
      set.startIngest(0);
      set.startIngest(1);
      await set.ready(0);
      await set.ready(1);
      const nginx = set.spawn('nginx', '/usr/sbin/nginx', ['-c', set.nginxConfig()], {});
      await waitForHttp(`${set.ingestUrl}/healthz`, { timeoutMs: 30_000, exited: () => nginx.exited });
      if (options.consoles) {
        // One at a time: each creates the operator at its start if there is none yet.
        for (const i of [0, 1]) {
          const console = set.startConsole(i);
          await waitForHttp(`http://127.0.0.1:${ports.console[i]}/healthz`, { timeoutMs: 90_000, exited: () => console.exited });
        }
      }
    } catch (error) {
      await set.stop();
      throw error;
    }
    return set;
  }

  get ingestUrl(): string {
    return `http://127.0.0.1:${this.ports.lbIngest}`;
  }

  get flightAddress(): string {
    return `127.0.0.1:${this.ports.lbFlight}`;
  }

  get consoleUrl(): string {
    return `http://127.0.0.1:${this.ports.lbConsole}`;
  }

  replicaUrl(i: number): string {
    return `http://127.0.0.1:${this.ports.ingest[i]}`;
  }

  /** The running process of ingest replica `i`, if any. */
  ingest(i: number): Service | undefined {
    return this.services.find((service) => service.name === `ingest-${'ab'[i]}` && !service.exited);
  }

  /** Starts ingest replica `i` on its ports (again, after it was killed or stopped). */
  startIngest(i: number): Service {
    const { ports, options } = this;
    return this.spawn(`ingest-${'ab'[i]}`, process.execPath, [...NODE_FLAGS, 'dist/server.mjs'], {
      cwd: path.join(root, 'apps/ingest'),
      env: serviceEnv({
        PATH: process.env.PATH,
        LOG_LEVEL: 'error',
        INGEST_TRUST_PROXY: 'true',
        ...options.ingestEnv,
        DATABASE_URL: options.databaseUrl,
        SLUICE_ADMIN_TOKEN: options.adminToken,
        REPLICA_ID: `ingest-${'ab'[i]}`,
        INGEST_PORT: String(ports.ingest[i]),
        FLIGHT_PORT: String(ports.flight[i]),
      }),
    });
  }

  /** Resolves once ingest replica `i` answers. */
  ready(i: number): Promise<void> {
    const service = this.ingest(i);
    return waitForHttp(`${this.replicaUrl(i)}/healthz`, { timeoutMs: 60_000, exited: () => service?.exited ?? true });
  }

  async stop(): Promise<void> {
    for (const service of this.services.reverse()) await service.stop();
    fs.rmSync(this.work, { recursive: true, force: true });
  }

  private startConsole(i: number): Service {
    const consoles = this.options.consoles!;
    return this.spawn(
      `console-${'ab'[i]}`,
      path.join(root, 'node_modules/.bin/next'),
      ['start', '-p', String(this.ports.console[i]), '-H', '127.0.0.1'],
      {
        cwd: path.join(root, 'apps/web'),
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          NEXT_TELEMETRY_DISABLED: '1',
          DATABASE_URL: this.options.databaseUrl,
          INGEST_URL: this.ingestUrl,
          SLUICE_ADMIN_TOKEN: this.options.adminToken,
          SLUICE_SESSION_SECRET: consoles.sessionSecret,
          SLUICE_ADMIN_EMAIL: consoles.email,
          SLUICE_ADMIN_PASSWORD: consoles.password,
        },
      },
    );
  }

  private spawn(name: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }): Service {
    const service = spawnService(name, command, args, { ...options, stdio: ['ignore', 'ignore', 'inherit'] });
    this.services.push(service);
    return service;
  }

  /** deploy/nginx/sluice.conf with this set's addresses, in an nginx.conf of its own. */
  private nginxConfig(): string {
    const { ports, work } = this;
    let conf = fs.readFileSync(path.join(root, 'deploy/nginx/sluice.conf'), 'utf8');
    for (const i of [0, 1]) {
      conf = conf
        .replaceAll(`10.0.0.1${i + 1}:8080`, `127.0.0.1:${ports.ingest[i]}`)
        .replaceAll(`10.0.0.1${i + 1}:8815`, `127.0.0.1:${ports.flight[i]}`)
        .replaceAll(`10.0.0.1${i + 1}:3000`, `127.0.0.1:${ports.console[i]}`);
    }
    conf = conf
      .replace('listen 80;', `listen 127.0.0.1:${ports.lbIngest};`)
      .replace('listen 80;', `listen 127.0.0.1:${ports.lbConsole};`)
      .replace('listen 8815 http2;', `listen 127.0.0.1:${ports.lbFlight} http2;`);
    if (/10\.0\.0\.|listen 80;|listen 8815/.test(conf))
      throw new Error('deploy/nginx/sluice.conf has an address this set does not replace');
    const file = path.join(work, 'nginx.conf');
    fs.writeFileSync(
      file,
      `daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${work}/body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;
  ${conf}
}
`,
    );
    return file;
  }
}
