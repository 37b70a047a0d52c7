/**
 * Which layer a stream starts with, from its first 8 octets: the xl save-file magic,
 * libxl's "LibxlFmt", or libxc's all-ones marker. Anything else with a zero bit in the
 * first 8 octets is what a legacy (Xen <= 4.5) libxc image looks like.
 */
import { XL_MAGIC_BYTES } from '../format/headers.js';

export type StreamLayer = 'xl' | 'libxl' | 'libxc';
export type Detected = StreamLayer | 'legacy' | 'empty';

const LIBXL_IDENT_BYTES = new TextEncoder().encode('LibxlFmt');

export function detectLayer(first: Uint8Array): Detected {
  if (first.length === 0) return 'empty';
  const n = Math.min(8, first.length);
  if (first.subarray(0, n).every((b, i) => b === XL_MAGIC_BYTES[i])) return n === 8 ? 'xl' : 'legacy';
  if (n === 8 && first.subarray(0, 8).every((b, i) => b === LIBXL_IDENT_BYTES[i])) return 'libxl';
  if (n === 8 && first.subarray(0, 8).every((b) => b === 0xff)) return 'libxc';
  return 'legacy';
}

export function describeDetected(d: Detected): string {
  switch (d) {
    case 'xl':
      return 'xl save file';
    case 'libxl':
      return 'libxl migration stream (v2)';
    case 'libxc':
      return 'libxc migration stream';
    case 'legacy':
      return 'legacy (pre-v2, Xen <= 4.5) image or not a Xen stream';
    case 'empty':
      return 'empty input';
  }
}
