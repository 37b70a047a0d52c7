/**
 * What kind of legacy image this is, from its first octets: the saving toolstack's
 * width (the size of an "unsigned long") and the guest type. The format says neither;
 * these follow from what comes after p2m_size:
 *  - PV images start their extended info with an all-ones unsigned long, so a 32-bit
 *    PV image has 0xffffffff at offset 4, a 64-bit one zero there (p2m_size's upper
 *    half) and all ones at offset 8.
 *  - HVM images go straight to the chunks: a 64-bit image has p2m_size's zero upper
 *    half at offset 4 and a chunk marker at 8; a 32-bit one a chunk marker at 4.
 * A chunk marker is a page batch size (1..1024) or a negative chunk id.
 */
import { LEGACY_MAX_BATCH, LOWEST_CHUNK } from './constants.js';

export type LegacyWidth = 32 | 64;
export type LegacyGuest = 'pv' | 'hvm';

export interface LegacyKind {
  width: LegacyWidth;
  guest: LegacyGuest;
}

/** How many octets `detectLegacyKind` looks at. */
export const LEGACY_SNIFF = 16;

function plausibleMarker(m: number): boolean {
  return m >= LOWEST_CHUNK && m <= LEGACY_MAX_BATCH;
}

/**
 * The kind, with what the caller forces taken as given, or a reason it is not a legacy
 * image. `first` holds the image's first octets (at least 16 unless the input is shorter).
 */
export function detectLegacyKind(first: Uint8Array, forced: Partial<LegacyKind> = {}): LegacyKind | string {
  if (first.length < 8) return `only ${first.length} octet(s), a legacy image needs at least p2m_size and what follows`;
  const v = new DataView(first.buffer, first.byteOffset, first.length);
  const u32 = (o: number) => (o + 4 <= first.length ? v.getUint32(o, true) : undefined);
  const lo = u32(0)!;
  const at4 = u32(4)!;
  const at8 = u32(8);
  const at12 = u32(12);
  const pv64 = at4 === 0 && at8 === 0xffffffff && at12 === 0xffffffff;
  const pv32 = at4 === 0xffffffff;
  const hvm64 = at4 === 0 && at8 !== undefined && plausibleMarker(at8 | 0);
  const hvm32 = plausibleMarker(at4 | 0) && at4 !== 0;

  const pick = (width: LegacyWidth, guest: LegacyGuest): LegacyKind => ({ width, guest });
  const { width, guest } = forced;
  if (width !== undefined && guest !== undefined) return pick(width, guest);
  if (width === 32) {
    if (guest === undefined && pv32) return pick(32, 'pv');
    return pick(32, guest ?? 'hvm');
  }
  if (width === 64) {
    if (guest === undefined && pv64) return pick(64, 'pv');
    return pick(64, guest ?? 'hvm');
  }
  // Width not given: from here on p2m_size (at least 1) must make sense too.
  if (lo === 0 && at4 === 0) return 'p2m_size is 0';
  if (guest !== 'hvm') {
    if (pv64) return pick(64, 'pv');
    if (pv32 && lo !== 0) return pick(32, 'pv');
  }
  if (guest !== 'pv') {
    if (hvm64 && lo !== 0) return pick(64, 'hvm');
    if (hvm32 && lo !== 0) return pick(32, 'hvm');
  }
  if (guest === 'pv') return 'no all-ones extended-info marker after p2m_size at offset 4 (32-bit) or 8 (64-bit), which a PV image starts with';
  return `after p2m_size, neither an all-ones extended-info marker (PV) nor a chunk marker in ${LOWEST_CHUNK}..${LEGACY_MAX_BATCH} (HVM) at offset 4 or 8`;
}
