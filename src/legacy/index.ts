/**
 * The legacy (Xen <= 4.5) layer: a framing reader for the old image format that yields
 * the stream Xen's convert-legacy-stream makes of it, and the converter that writes that
 * stream. It sits below src/stream, which hands it legacy inputs (src/stream/any.ts).
 */
export { LegacyReader, readLegacyStream, xlHeaderIsLegacy, type LegacyOptions, type LegacyLayout, type LegacyItem } from './reader.js';
export { convertLegacy, type LegacyConvertOptions, type LegacyConvertResult } from './convert.js';
export { detectLegacyKind, type LegacyGuest, type LegacyWidth, type LegacyKind } from './detect.js';
export { LegacyFormatError } from './errors.js';
