export * from './simulated-domain.js';
export * from './workload.js';
export * from './sample.js';
export * from './prng.js';
