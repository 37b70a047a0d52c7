/**
 * Typed errors that users cause. Each carries the place in the stream it concerns so
 * the CLI can print one line naming where and what was expected, never a stack trace.
 */

/** Where in a stream something happened. Every field is optional: a header has no record index. */
export interface StreamLocation {
  /** Byte offset from the start of the outermost stream. */
  offset?: number;
  /** Index of the record within its layer (0-based). */
  recordIndex?: number;
  /** Record type name, e.g. "PAGE_DATA", or the layer's header name. */
  recordType?: string;
  /** Which framing layer: xl, libxl or libxc. */
  layer?: string;
}

export function describeLocation(loc: StreamLocation): string {
  const parts: string[] = [];
  if (loc.offset !== undefined) parts.push(`offset ${loc.offset} (0x${loc.offset.toString(16)})`);
  if (loc.layer !== undefined) parts.push(loc.layer);
  if (loc.recordIndex !== undefined) parts.push(`record #${loc.recordIndex}`);
  if (loc.recordType !== undefined) parts.push(loc.recordType);
  return parts.join(', ');
}

/** The stream does not conform to the format (CLI exit 1). */
export class StreamFormatError extends Error {
  readonly location: StreamLocation;
  readonly detail: string;
  constructor(detail: string, location: StreamLocation = {}) {
    const where = describeLocation(location);
    super(where ? `${where}: ${detail}` : detail);
    this.name = 'StreamFormatError';
    this.detail = detail;
    this.location = location;
  }
}

/** The stream ended before a complete header or record (CLI exit 1). */
export class TruncatedStreamError extends StreamFormatError {
  constructor(detail: string, location: StreamLocation = {}) {
    super(detail, location);
    this.name = 'TruncatedStreamError';
  }
}

/** A header or record over a size bound (Xen's or xenmig's), refused before reading it (CLI exit 1). */
export class LimitExceededError extends StreamFormatError {
  constructor(detail: string, location: StreamLocation = {}) {
    super(detail, location);
    this.name = 'LimitExceededError';
  }
}

/** Bad flags, arguments or combinations of them (CLI exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A file, pipe or socket could not be used (CLI exit 2). */
export class IoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IoError';
  }
}

/** A peer or a callback refused to go on (compatibility, minimum version). CLI exit 1. */
export class RefusedError extends Error {
  readonly reasons: string[];
  constructor(message: string, reasons: string[] = []) {
    super(message);
    this.name = 'RefusedError';
    this.reasons = reasons;
  }
}
