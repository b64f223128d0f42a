// Bundles the service and its pipeline worker into plain JavaScript (dist/), so production runs without
// a TypeScript loader. Workspace packages (TypeScript source) are bundled; npm dependencies stay external.
import fs from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: {
    server: 'src/server.ts',
    'pipeline.worker': 'src/pipeline/pipeline.worker.ts',
  },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // Modules loaded with import() (the S3 and ClickHouse clients) become chunks of their own, loaded only
  // when used; without splitting, the bundle would import their npm packages at start.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  plugins: [
    {
      // npm dependencies stay external (resolved from node_modules at run time); workspace packages,
      // which are TypeScript source, are bundled.
      name: 'external-npm-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@sluice/') ? undefined : { path: args.path, external: true }));
      },
    },
  ],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});

// The Arrow Flight service definition, read by @grpc/proto-loader at run time (flight/flight-server.ts).
fs.copyFileSync('src/flight/flight.proto', 'dist/flight.proto');
