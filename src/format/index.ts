export * from './constants.js';
export * from './errors.js';
export * from './bytes.js';
export * from './headers.js';
export * from './records.js';
export * from './libxl-records.js';
export * from './hvm-params.js';
export * from './hvm-context.js';
