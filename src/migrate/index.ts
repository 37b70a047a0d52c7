export * from './handshake.js';
export * from './transport.js';
export * from './preflight.js';
export * from './sender.js';
export * from './receiver.js';
export * from './auth.js';
export * from './listener.js';
