/**
 * Legacy (Xen <= 4.5) images: a framing reader for the old image format that yields the
 * stream Xen's convert-legacy-stream makes of it (the stream layer's own items), and the
 * converter that writes that stream. Framing is the stream layer's job, so it lives in
 * it, beside the v2 reader: stream/any.ts hands it legacy inputs.
 */
export { LegacyReader, readLegacyStream, xlHeaderIsLegacy, type LegacyOptions, type LegacyLayout, type LegacyItem } from './reader.js';
export { convertLegacy, type LegacyConvertOptions, type LegacyConvertResult } from './convert.js';
export { detectLegacyKind, type LegacyGuest, type LegacyWidth, type LegacyKind } from './detect.js';
export { LegacyFormatError } from './errors.js';
