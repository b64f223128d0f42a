import type { NextConfig } from 'next';

const config: NextConfig = {
  // Workspace packages ship TypeScript source; Next compiles them with the app.
  transpilePackages: ['@sluice/shared', '@sluice/db'],
  serverExternalPackages: ['pg', '@prisma/adapter-pg'],
  // Type-checking is the typecheck task's job (tsc 7); the build only compiles.
  typescript: { ignoreBuildErrors: true },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default config;
