export * from './process';
export * from './database';
