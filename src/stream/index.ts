export * from './detect.js';
export * from './items.js';
export * from './reader.js';
export * from './writer.js';
export * from './open.js';
export * from './static-data.js';
export * from './convert.js';
