/**
 * Reading back: the manifest of a stream's files (newest first, paginated) and a preview of one file
 * (schema, row groups, first rows) read from the sink. For the admin token or a key allowed on the stream.
 */
import { findDataFile, listDataFiles } from '@sluice/db';
import { SluiceError } from '@sluice/shared';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { previewParquet } from '../sinks/parquet-preview';

const params = z.object({ stream: z.string() });
const security: Record<string, string[]>[] = [{ apiKey: [] }, { adminToken: [] }];

export const filesRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/v1/streams/:stream/files',
    {
      schema: {
        summary: "List a stream's files, newest first",
        tags: ['files'],
        params,
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().optional(),
        }),
        security,
      },
    },
    async (request) => {
      const { stream } = request.params as z.infer<typeof params>;
      await app.auth.requireStreamReader(request, stream);
      const { limit, cursor } = request.query as { limit: number; cursor?: string };
      return listDataFiles(app.db, stream, { limit, cursor });
    },
  );

  app.get(
    '/v1/streams/:stream/files/preview',
    {
      schema: {
        summary: 'Preview one file: schema, row groups and the first rows',
        tags: ['files'],
        params,
        querystring: z.object({
          key: z.string().min(1),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        security,
      },
    },
    async (request) => {
      const { stream } = request.params as z.infer<typeof params>;
      await app.auth.requireStreamReader(request, stream);
      const { key, limit } = request.query as { key: string; limit: number };
      const file = await findDataFile(app.db, stream, key);
      const size = await app.store.size(file.key);
      if (size === null) throw new SluiceError('file.not_found', `The file "${key}" is in the manifest but not in the store.`);
      return previewParquet(app.store, file.key, size, limit);
    },
  );
};
