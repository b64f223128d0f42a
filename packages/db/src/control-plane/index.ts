export * from './streams';
export * from './keys';
export * from './files';
export * from './idempotency';
export * from './delta';
export * from './lake';
