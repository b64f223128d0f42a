import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS, SluiceError, toErrorBody } from './errors';

describe('error model', () => {
  it('gives each code a status and message', () => {
    const error = new SluiceError('ingest.payload_too_large');
    assert.equal(error.status, 413);
    assert.deepEqual(toErrorBody(error, 'req_1'), {
      error: { code: 'ingest.payload_too_large', message: ERRORS['ingest.payload_too_large'].message, requestId: 'req_1' },
    });
  });

  it('keeps specific client messages but never leaks 5xx internals or causes', () => {
    assert.equal(toErrorBody(new SluiceError('stream.not_found', 'No stream "x".'), 'r').error.message, 'No stream "x".');
    const sink = new SluiceError('sink.unavailable', 'ECONNREFUSED 10.0.0.1:9000', { cause: new Error('secret') });
    assert.equal(toErrorBody(sink, 'r').error.message, ERRORS['sink.unavailable'].message);
    assert.deepEqual(toErrorBody(new Error('db password wrong'), 'r'), {
      error: { code: 'internal.error', message: ERRORS['internal.error'].message, requestId: 'r' },
    });
  });

  it('uses only 4xx and 5xx statuses and dotted codes', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) {
      assert.match(code, /^[a-z_]+\.[a-z_]+$/);
      assert.ok(status >= 400 && status < 600);
    }
  });
});
