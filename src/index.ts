/**
 * xenmig's library API: every layer's public entry, in pipeline order. The README's
 * "Library API" section shows the common calls.
 */
export * from './format/index.js';
export * from './io/index.js';
export * from './stream/index.js';
export * from './verify/index.js';
export * from './domain/types.js';
export * from './domain/state.js';
export * from './domain/image/index.js';
export * from './domain/simulated/index.js';
export * from './inspect/index.js';
export * from './restore/index.js';
export * from './save/index.js';
export * from './policy/index.js';
export * from './diff/index.js';
export * from './migrate/index.js';
export * from './report/index.js';
