/**
 * Byte-level mutations of small conforming streams (flipped, cut, extended, spliced,
 * interesting u32s at aligned places): the verifier's mutation test and the
 * verify/restore agreement test draw from the same corpus.
 */
import { libxlWrap, sampleHvmV3, xlWrap } from './builder.js';
import { hvmRecords, libxcBytes, pvRecords } from '../verify/streams.js';

export const BASES: Uint8Array[] = [
  libxcBytes(hvmRecords(3)),
  libxcBytes(pvRecords(2), { version: 2, domainType: 1 }),
  libxcBytes(pvRecords(3, false), { domainType: 1, bigEndian: true }),
  xlWrap(libxlWrap(sampleHvmV3({ pages: 2 }))),
  libxlWrap(sampleHvmV3({ pages: 1, bigEndian: true }), { bigEndian: true }),
];

const INTERESTING = [0, 1, 7, 8, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 0x08000000, 0x08000001, 16, 0x10, 0x12, 0x80000012];

export function mutate(base: Uint8Array, next: () => number): Uint8Array {
  let b = base.slice();
  const steps = 1 + (next() % 3);
  for (let s = 0; s < steps; s++) {
    const at = b.length === 0 ? 0 : next() % b.length;
    switch (next() % 6) {
      case 0: // flip bits of one octet
        if (b.length) b[at]! ^= 1 << (next() % 8);
        break;
      case 1: // cut
        b = b.subarray(0, at);
        break;
      case 2: {
        // extend with random octets
        const extra = new Uint8Array(1 + (next() % 64)).map(() => next() & 0xff);
        const out = new Uint8Array(b.length + extra.length);
        out.set(b);
        out.set(extra, b.length);
        b = out;
        break;
      }
      case 3: {
        // splice random octets into the middle
        const extra = new Uint8Array(1 + (next() % 16)).map(() => next() & 0xff);
        const out = new Uint8Array(b.length + extra.length);
        out.set(b.subarray(0, at));
        out.set(extra, at);
        out.set(b.subarray(at), at + extra.length);
        b = out;
        break;
      }
      case 4: {
        // an interesting u32 at an aligned place (types, lengths, counts)
        const pos = at & ~3;
        if (pos + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(pos, INTERESTING[next() % INTERESTING.length]!, (next() & 1) === 0);
        break;
      }
      default: // drop a run of octets
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + 1 + (next() % 40)))]);
    }
  }
  return b;
}

