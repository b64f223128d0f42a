/**
 * A real ClickHouse server for tests: Debian's clickhouse-server started without systemd from a small
 * config in a temporary folder, on free 127.0.0.1 ports; stop() and start() again keep its data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, portInUse, spawnService, waitForHttp, type Service } from './process';

export const CLICKHOUSE_BINARY = '/usr/sbin/clickhouse-server';

export interface ClickHouseServer {
  url: string;
  httpPort: number;
  dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startClickHouse(dir: string): Promise<ClickHouseServer> {
  const [httpPort, tcpPort] = [await freePort(), await freePort()];
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, 'config.xml');
  fs.writeFileSync(
    config,
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
`,
  );
  let service: Service | null = null;
  const server: ClickHouseServer = {
    url: `http://127.0.0.1:${httpPort}`,
    httpPort,
    dir,
    async start() {
      for (const port of [httpPort, tcpPort]) {
        if (await portInUse(port)) throw new Error(`port ${port} is in use; ClickHouse cannot start there`);
      }
      // The server itself, not a shell wrapper, so that stopping this PID stops it.
      service = spawnService('clickhouse', CLICKHOUSE_BINARY, [`--config-file=${config}`], { stdio: 'ignore', cwd: dir });
      await waitForHttp(`${server.url}/ping`, { timeoutMs: 30_000, exited: () => service?.exited ?? true });
    },
    async stop() {
      await service?.stop(20_000);
      service = null;
    },
  };
  await server.start();
  return server;
}
