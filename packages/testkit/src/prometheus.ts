/** A real Prometheus for tests: Debian's prometheus on a free 127.0.0.1 port, scraping what it is told. */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, spawnService, waitForHttp } from './process';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

export interface PrometheusServer {
  url: string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: {
  dir: string;
  targets: string[];
  job: string;
  scrapeIntervalSeconds?: number;
  ruleFiles?: string[];
}): Promise<PrometheusServer> {
  const port = await freePort();
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = path.join(options.dir, 'prometheus.yml');
  fs.writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  evaluation_interval: ${interval}`,
      ...(options.ruleFiles?.length ? ['rule_files:', ...options.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
      'scrape_configs:',
      `  - job_name: ${options.job}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(options.targets)}`,
      '',
    ].join('\n'),
  );
  const service = spawnService(
    'prometheus',
    PROMETHEUS_BINARY,
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(options.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/-/ready`, { timeoutMs: 30_000, exited: () => service.exited });
  return { url, stop: () => service.stop() };
}
