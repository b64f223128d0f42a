/**
 * The one error handler: SluiceErrors keep their code and status, validation errors become
 * request.invalid, everything else is a logged 500 with a generic message.
 */
import { SluiceError, formatIssue, toErrorBody } from '@sluice/shared';
import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { ZodError } from 'zod';

export const errorsPlugin = fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError | SluiceError | ZodError, request, reply) => {
      let sluiceError: SluiceError;
      if (!(error instanceof SluiceError) && request.raw.destroyed && !request.raw.complete) {
        // The client went away mid-body (a cancelled upload, a dropped connection): not a failure of the
        // service (metrics.plugin.ts counts it as 499). The answer goes nowhere.
        request.log.info({ err: error }, 'the client closed the connection before the answer');
        reply.status(499).send(toErrorBody(new SluiceError('request.aborted'), request.id));
        return;
      }
      if (error instanceof SluiceError) {
        sluiceError = error;
      } else if (error instanceof ZodError) {
        sluiceError = new SluiceError('request.invalid', error.issues.map(formatIssue).join('; '));
      } else if ('validation' in error && error.validation) {
        sluiceError = new SluiceError('request.invalid', error.message);
      } else if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        sluiceError = new SluiceError('ingest.payload_too_large');
      } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        sluiceError = new SluiceError('ingest.unsupported_media_type');
      } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        sluiceError = new SluiceError('request.invalid', error.message);
      } else {
        sluiceError = new SluiceError('internal.error', undefined, { cause: error });
      }
      if (sluiceError.status >= 500) request.log.error({ err: error }, 'request failed');
      reply.headers(sluiceError.headers).status(sluiceError.status).send(toErrorBody(sluiceError, request.id));
    });

    app.setNotFoundHandler((request, reply) => {
      reply.status(404).send(toErrorBody(new SluiceError('route.not_found'), request.id));
    });
  },
  { name: 'errors' },
);
