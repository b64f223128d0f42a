/**
 * One error model for the whole product: a stable code, an HTTP status and a public message.
 * The cause stays internal; the JSON body never carries it.
 */

export const ERRORS = {
  'request.invalid': { status: 400, message: 'The request is invalid.' },
  'ingest.malformed_body': { status: 400, message: 'The request body could not be read.' },
  'ingest.empty_body': { status: 400, message: 'The request body is empty.' },
  'ingest.invalid_idempotency_key': {
    status: 400,
    message: 'Idempotency-Key must be 1 to 200 printable ASCII characters.',
  },
  'auth.missing_key': { status: 401, message: 'An API key is required: send Authorization: Bearer <key>.' },
  'auth.invalid_key': { status: 401, message: 'The API key is not valid.' },
  'auth.revoked_key': { status: 401, message: 'The API key has been revoked.' },
  'auth.invalid_credentials': { status: 401, message: 'Email or password is incorrect.' },
  'auth.session_required': { status: 401, message: 'Please sign in.' },
  'admin.unauthorized': { status: 401, message: 'The admin token is missing or wrong.' },
  'metrics.unauthorized': { status: 401, message: 'Send Authorization: Bearer <METRICS_TOKEN>.' },
  'auth.stream_forbidden': { status: 403, message: 'This API key may not write to this stream.' },
  'auth.scope_forbidden': { status: 403, message: 'This API key does not have the scope this request needs.' },
  'stream.not_found': { status: 404, message: 'No stream has that name.' },
  'key.not_found': { status: 404, message: 'No API key has that id.' },
  'file.not_found': { status: 404, message: 'No file has that key in this stream.' },
  'route.not_found': { status: 404, message: 'No such route.' },
  'admin.disabled': { status: 404, message: 'The admin API is disabled (SLUICE_ADMIN_TOKEN is not set).' },
  'stream.already_exists': { status: 409, message: 'A stream with that name already exists.' },
  'schema.incompatible': { status: 409, message: 'The new schema version is not an additive change.' },
  'operator.already_exists': { status: 409, message: 'An operator account already exists.' },
  'ingest.idempotency_in_flight': {
    status: 409,
    message: 'Another request with this Idempotency-Key is in progress; retry after the indicated delay.',
  },
  'ingest.body_timeout': { status: 408, message: 'The request body stopped arriving; send it again.' },
  'ingest.payload_too_large': { status: 413, message: 'The request body is larger than the limit.' },
  'ingest.inflation_too_large': { status: 413, message: 'The compressed body inflates more than the limit allows.' },
  'preview.too_large': {
    status: 413,
    message: 'The file has no offset index and is too large to preview (PREVIEW_MAX_BYTES_WITHOUT_INDEX).',
  },
  'ingest.unsupported_media_type': {
    status: 415,
    message: 'Send text/csv, application/x-ndjson or application/vnd.apache.arrow.stream.',
  },
  'ingest.unsupported_encoding': { status: 415, message: 'Only gzip, zstd and identity content encodings are accepted.' },
  'ingest.rows_rejected': { status: 422, message: 'Some rows were rejected and the stream stores all or nothing.' },
  'ingest.idempotency_mismatch': {
    status: 422,
    message: 'This Idempotency-Key was used with a different body; nothing was stored. Use a new key for a new body.',
  },
  'ingest.busy': { status: 429, message: 'The service is busy; retry after the indicated delay.' },
  'ingest.too_many_requests': {
    status: 429,
    message: 'Too many ingest requests are in flight (for this service or this key); retry after the indicated delay.',
  },
  'auth.too_many_failures': { status: 429, message: 'Too many requests with unknown API keys from this address; retry later.' },
  'preview.busy': { status: 429, message: 'Too many previews are running; retry after the indicated delay.' },
  /** Not an answer anyone reads: requests cut off by their client are counted under it (as nginx does). */
  'request.aborted': { status: 499, message: 'The client closed the connection before the answer.' },
  'internal.error': { status: 500, message: 'Something went wrong on our side.' },
  'sink.unavailable': { status: 503, message: 'The storage sink is unavailable; retry later.' },
  'service.shutting_down': { status: 503, message: 'The service is shutting down; retry on another replica.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; details?: unknown };
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: { cause?: unknown; details?: unknown; headers?: Record<string, string> } = {}) {
    super(message ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export function isSluiceError(error: unknown): error is SluiceError {
  return error instanceof SluiceError;
}

/** The public JSON shape of an error. 5xx messages are always the generic ones: internals never leak. */
export function toErrorBody(error: unknown, requestId: string): ErrorBody {
  if (isSluiceError(error)) {
    const message = error.status >= 500 ? ERRORS[error.code].message : error.message;
    const body: ErrorBody = { error: { code: error.code, message, requestId } };
    if (error.details !== undefined && error.status < 500) body.error.details = error.details;
    return body;
  }
  return { error: { code: 'internal.error', message: ERRORS['internal.error'].message, requestId } };
}

/** Row-level rejection codes, reported per line in ingest answers. */
export const ROW_ERRORS = {
  fieldCount: 'row.field_count',
  invalidValue: 'row.invalid_value',
  missingColumn: 'row.missing_column',
  unknownColumn: 'row.unknown_column',
  lineTooLong: 'row.line_too_long',
  invalidUtf8: 'row.invalid_utf8',
  invalidJson: 'row.invalid_json',
  unterminatedQuote: 'row.unterminated_quote',
  malformedQuote: 'row.malformed_quote',
} as const;
export type RowErrorCode = (typeof ROW_ERRORS)[keyof typeof ROW_ERRORS];
