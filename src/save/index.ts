export * from './save.js';
export * from './precopy.js';
export * from './ops.js';
export * from './sample.js';
