/**
 * docker-compose.yml is for users (no Docker engine runs on the build machines): `docker compose config -q`
 * validates it when the compose plugin is installed; the wiring and the safe defaults (required secrets,
 * ports on 127.0.0.1, pinned images, the image's non-root user and production-only dependencies) are
 * checked structurally either way.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

const root = path.resolve(import.meta.dirname, '..');
const composeFile = path.join(root, 'docker-compose.yml');
const composeText = fs.readFileSync(composeFile, 'utf8');

/** The secrets compose must refuse to start without (each in .env.example). */
const SECRETS = [
  'POSTGRES_PASSWORD',
  'MINIO_ROOT_USER',
  'MINIO_ROOT_PASSWORD',
  'CLICKHOUSE_PASSWORD',
  'SLUICE_ADMIN_TOKEN',
  'SLUICE_SESSION_SECRET',
  'SLUICE_SETUP_TOKEN',
];
/** Optional, with an empty default: unset, no operator is created at start. */
const OPTIONAL = new Set(['SLUICE_ADMIN_EMAIL', 'SLUICE_ADMIN_PASSWORD', 'INGEST_PUBLISH', 'FLIGHT_PUBLISH', 'WEB_PUBLISH']);

/** The compose command here (the v2 plugin, else the standalone docker-compose), or null. */
function composeCommand(): string[] | null {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    const probe = spawnSync(command[0]!, [...command.slice(1), 'version'], { encoding: 'utf8' });
    if (probe.status === 0) return command;
  }
  return null;
}

/** `${VAR:-default}` replaced by its default, as compose does when VAR is unset. */
function withDefaults(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+):-([^}]*)\}/g, (_all, _name, fallback: string) => fallback);
}

describe('docker-compose.yml', () => {
  it('is accepted by `docker compose config -q`', (t) => {
    const command = composeCommand();
    if (!command) {
      t.skip('docker compose is not installed here; the structural tests below still run');
      return;
    }
    const env = { ...process.env, ...Object.fromEntries(SECRETS.map((name) => [name, `test-${name.toLowerCase()}-0123456789abcdef0123`])) };
    const emptyEnvFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-compose-')), '.env');
    fs.writeFileSync(emptyEnvFile, '');
    const config = (extra: NodeJS.ProcessEnv) =>
      spawnSync(command[0]!, [...command.slice(1), '--env-file', emptyEnvFile, '-f', composeFile, 'config', '-q'], {
        encoding: 'utf8',
        env: extra,
      });
    const result = config(env);
    assert.equal(result.status, 0, result.stderr);
    for (const secret of SECRETS) {
      const { [secret]: _left, ...without } = env;
      const refused = config(without);
      assert.notEqual(refused.status, 0, `compose starts without ${secret}`);
      assert.match(refused.stderr, new RegExp(`set ${secret} in \\.env`));
    }
  });

  it('requires every secret (VAR with :?) and has no default for any of them', () => {
    // `$${VAR}` is compose's escape for a variable of the container's own shell: not an interpolation.
    const references = [...composeText.matchAll(/(?<!\$)\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}/g)].map(([, name, operator, rest]) => ({
      name: name!,
      operator,
      rest,
    }));
    for (const secret of SECRETS) {
      const uses = references.filter((reference) => reference.name === secret);
      assert.ok(uses.length > 0, `${secret} is used`);
      for (const use of uses) assert.equal(use.operator, ':?', `${secret} is required wherever it is used`);
    }
    for (const reference of references) {
      if (SECRETS.includes(reference.name)) continue;
      assert.ok(OPTIONAL.has(reference.name), `\${${reference.name}} is neither a required secret nor a known option`);
      if (/PASSWORD|SECRET|TOKEN/.test(reference.name)) assert.equal(reference.rest, '', `${reference.name} has no default value`);
    }
    const example = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
    for (const secret of SECRETS) assert.match(example, new RegExp(`^${secret}=`, 'm'), `.env.example lists ${secret}`);
  });

  it('publishes only the ingest API and the console, on 127.0.0.1 by default, and pins every image', () => {
    const services = parse(composeText, { merge: true }).services as Record<string, { image?: string; ports?: string[] }>;
    const published = Object.entries(services).filter(([, service]) => service.ports?.length);
    assert.deepEqual(published.map(([name]) => name).sort(), ['ingest', 'web']);
    for (const [name, service] of published) {
      for (const port of service.ports!) assert.match(withDefaults(String(port)), /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${port}`);
    }
    for (const [name, service] of Object.entries(services)) {
      if (!service.image) continue;
      const tag = /:([^:/]+)$/.exec(service.image)?.[1];
      assert.ok(tag && tag !== 'latest' && /\d/.test(tag), `${name}'s image ${service.image} is pinned to a version`);
    }
  });

  it('builds an image that runs as a non-root user with production dependencies only', () => {
    const dockerfile = fs.readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM\s+/m).slice(1);
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    for (const stage of stages) {
      const image = stage.split(/\s/)[0]!;
      assert.match(image, /^node:\d+\.\d+\.\d+-/, `${image} is pinned to a Node version`);
    }
    const runtime = stages.at(-1)!;
    assert.match(runtime, /^RUN npm ci --omit=dev\b/m, 'the runtime installs production dependencies only');
    assert.doesNotMatch(runtime, /^RUN npm (ci|install)(?!.*--omit=dev)/m);
    const users = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
    assert.ok(users.length > 0 && users.at(-1) !== 'root' && users.at(-1) !== '0', 'the app runs as a non-root user');
  });

  it('wires postgres, minio with its bucket, clickhouse, prometheus, ingest and web with healthchecks', () => {
    const compose = parse(fs.readFileSync(composeFile, 'utf8'), { merge: true });
    const services = compose.services as Record<string, Record<string, any>>;
    for (const name of ['postgres', 'minio', 'minio-bucket', 'clickhouse', 'prometheus', 'migrate', 'ingest', 'web']) {
      assert.ok(services[name], `service ${name}`);
    }
    for (const name of ['postgres', 'minio', 'clickhouse', 'prometheus', 'ingest', 'web']) {
      assert.ok(services[name]?.healthcheck?.test, `${name} has a healthcheck`);
    }
    const ingest = services.ingest!.environment;
    assert.match(ingest.DATABASE_URL, /@postgres:5432\//);
    assert.equal(ingest.S3_ENDPOINT, 'http://minio:9000');
    assert.equal(ingest.CLICKHOUSE_URL, 'http://clickhouse:8123');
    assert.equal(services.web!.environment.INGEST_URL, 'http://ingest:8080');
    assert.equal(services.web!.environment.PROMETHEUS_URL, 'http://prometheus:9090');
    assert.equal(services.ingest!.depends_on.migrate.condition, 'service_completed_successfully');
    assert.equal(services.ingest!.depends_on['minio-bucket'].condition, 'service_completed_successfully');

    const prometheus = parse(fs.readFileSync(path.join(root, 'deploy/prometheus/prometheus.yml'), 'utf8'));
    assert.deepEqual(prometheus.scrape_configs[0].static_configs[0].targets, ['ingest:8080']);
  });
});
