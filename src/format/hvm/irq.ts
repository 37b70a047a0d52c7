/** Bit numbers set in a little-endian bitmap. */
export function bitsSet(bytes: Uint8Array): number[] {
  const out: number[] = [];
  bytes.forEach((b, i) => {
    for (let j = 0; j < 8; j++) if ((b >> j) & 1) out.push(i * 8 + j);
  });
  return out;
}
