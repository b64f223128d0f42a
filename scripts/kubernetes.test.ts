/**
 * deploy/kubernetes: every manifest parses and is a valid Kubernetes object (the JSON schemas of the API
 * objects, from npm `kubernetes-models`), the ingest Deployment drains before it is killed, secrets are
 * referenced and never inlined, and `kubectl kustomize` renders the whole (where kubectl is installed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';

const dir = path.resolve(import.meta.dirname, '../deploy/kubernetes');
const kinds: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, read field by field by the checks below
  spec?: any;
  data?: Record<string, string>;
}

const kustomization = parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8')).map((document) => document.toJS() as Manifest),
);
const byName = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name)!;

describe('deploy/kubernetes', () => {
  it('lists every manifest of the folder, each a valid Kubernetes object', () => {
    const files = fs.readdirSync(dir).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
    for (const manifest of manifests) {
      const Model = kinds[`${manifest.apiVersion}/${manifest.kind}`];
      assert.ok(Model, `${manifest.apiVersion} ${manifest.kind} is checked`);
      assert.doesNotThrow(() => new Model(manifest as never).validate(), `${manifest.kind}/${manifest.metadata.name}`);
    }
    // The schemas do catch a mistake: a port given as text where a number is required.
    const broken = structuredClone(byName('Service', 'sluice-ingest'));
    broken.spec.ports[0].port = 'eighty';
    assert.throws(() => new Service(broken as never).validate());
  });

  it('the ingest replicas drain before they are killed, are probed, sized, spread and scaled', () => {
    const ingest = byName('Deployment', 'sluice-ingest');
    const pod = ingest.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.deepEqual(container.lifecycle.preStop.exec.command, ['sleep', '5']);
    const shutdownMs = Number(byName('ConfigMap', 'sluice-config').data!.INGEST_SHUTDOWN_TIMEOUT_MS);
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > shutdownMs + 5000, 'the grace period covers the pause and the drain');
    assert.deepEqual(
      container.ports.map((port: { containerPort: number }) => port.containerPort),
      [8080, 8815],
    );
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
    assert.deepEqual(container.env.find((e: { name: string }) => e.name === 'REPLICA_ID').valueFrom, {
      fieldRef: { fieldPath: 'metadata.name' },
    });
    assert.equal(byName('PodDisruptionBudget', 'sluice-ingest').spec.minAvailable, 1);
    assert.equal(byName('HorizontalPodAutoscaler', 'sluice-ingest').spec.scaleTargetRef.name, 'sluice-ingest');
  });

  it('references the secrets and never inlines one', () => {
    const text = kustomization.resources.map((file) => fs.readFileSync(path.join(dir, file), 'utf8')).join('\n');
    assert.ok(!manifests.some((m) => m.kind === 'Secret'), 'no Secret object is kept here');
    for (const secret of ['DATABASE_URL', 'SLUICE_ADMIN_TOKEN', 'SLUICE_SESSION_SECRET', 'S3_SECRET_ACCESS_KEY']) {
      assert.match(text, new RegExp(`secretKeyRef:\\s+name: sluice-secrets\\s+key: ${secret}`), `${secret} comes from the Secret`);
      assert.doesNotMatch(text, new RegExp(`name: ${secret}\\s+value:`), `${secret} is not inlined`);
    }
    assert.ok(!Object.keys(byName('ConfigMap', 'sluice-config').data!).some((name) => /SECRET|PASSWORD|TOKEN|DATABASE_URL/.test(name)));
  });

  it('renders with kubectl kustomize', (t) => {
    const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (kubectl.error || kubectl.status !== 0) {
      t.skip('kubectl is not installed here: the manifests were validated above');
      return;
    }
    const rendered = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    assert.equal(rendered.status, 0, rendered.stderr);
    const objects = parseAllDocuments(rendered.stdout).map(
      (document) => document.toJS() as Manifest & { metadata: { namespace?: string } },
    );
    assert.equal(objects.length, manifests.length);
    for (const object of objects.filter((o) => o.kind !== 'Namespace'))
      assert.equal(object.metadata.namespace, 'sluice', object.metadata.name);
    const images = objects.flatMap((o) => o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image);
    assert.ok(images.length === 3 && images.every((image: string) => image === 'registry.example.com/sluice:0.1.0'), images.join(' '));
  });
});
