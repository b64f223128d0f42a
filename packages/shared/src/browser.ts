/** The part of the shared package that is safe in a browser bundle (no node: imports). */
export * from './schema';
export * from './stream';
export * from './parquet';
export * from './clickhouse';
export * from './errors';
export * from './api';
export * from './infer';
