export * from './raw-source.js';
export * from './byte-reader.js';
export * from './sink.js';
export * from './views.js';
export * from './io-buffer.js';
export { onTempFileNotice, releaseTemp, removeLiveTempsSync, sweepStaleTemps } from './temp-files.js';
export * from './pooled-socket.js';
