/**
 * Reading back: the manifest of a stream's files (newest first, paginated) and a preview of one file
 * (schema, row groups, first rows) read from the sink. For the admin token or a key with the `read` scope
 * allowed on the stream. At most PREVIEW_MAX_CONCURRENT previews run at once in a process (429 beyond).
 */
import { Readable } from 'node:stream';
import { findDataFile, listDataFiles } from '@sluice/db';
import { SluiceError } from '@sluice/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { quarantineLines, readQuarantinePage } from '../lake/quarantine-reader';
import { previewParquet } from '../sinks/parquet-preview';

const params = z.object({ stream: z.string() });
const security: Record<string, string[]>[] = [{ apiKey: [] }, { adminToken: [] }];

export const filesRoutes: FastifyPluginAsyncZod = async (app) => {
  let previewsRunning = 0;

  app.get(
    '/v1/streams/:stream/quarantine',
    {
      schema: {
        summary: "A stream's rejected rows (its quarantine table), newest first: a page, or every matching row as CSV or NDJSON",
        tags: ['files'],
        params,
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().max(200).optional(),
          code: z.string().max(100).optional(),
          request: z.string().max(200).optional(),
          format: z.enum(['json', 'csv', 'ndjson']).default('json'),
        }),
        security,
      },
    },
    async (request, reply) => {
      const { stream } = request.params;
      await app.auth.requireStreamAccess(request, stream, 'read');
      const { format, code, request: requestId, limit, cursor } = request.query;
      const filter = { code: code || undefined, request: requestId || undefined };
      if (format === 'json') return readQuarantinePage(app.db, app.store, stream, { ...filter, limit, cursor });
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="${stream}-quarantine.${format}"`)
        .send(Readable.from(quarantineLines(app.db, app.store, stream, filter, format)));
    },
  );

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
      const { stream } = request.params;
      await app.auth.requireStreamAccess(request, stream, 'read');
      const { limit, cursor } = request.query;
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
      const { stream } = request.params;
      await app.auth.requireStreamAccess(request, stream, 'read');
      const { key, limit } = request.query;
      const { maxConcurrent, maxBytesWithoutIndex } = app.config.preview;
      if (previewsRunning >= maxConcurrent) {
        throw new SluiceError('preview.busy', `${maxConcurrent} previews are running (PREVIEW_MAX_CONCURRENT).`, {
          headers: { 'retry-after': String(app.config.queue.retryAfterSeconds) },
        });
      }
      previewsRunning += 1;
      try {
        const file = await findDataFile(app.db, stream, key);
        const size = await app.store.size(file.key);
        if (size === null) throw new SluiceError('file.not_found', `The file "${key}" is in the manifest but not in the store.`);
        return await previewParquet(app.store, file.key, size, limit, { maxBytesWithoutIndex });
      } finally {
        previewsRunning -= 1;
      }
    },
  );
};
