export * from './process';
export * from './database';
export * from './s3rver';
export * from './clickhouse';
export * from './prometheus';
export * from './random';
