/** A legacy image that cannot be read or converted: the finding's code travels with it. */
import { StreamFormatError, type StreamLocation } from '../../format/errors.js';

export class LegacyFormatError extends StreamFormatError {
  constructor(
    readonly code: string,
    detail: string,
    location: StreamLocation = {},
  ) {
    super(detail, location);
    this.name = 'LegacyFormatError';
  }
}
