/**
 * EMULATOR_XENSTORE_DATA's data: NUL-terminated key, value, key, value... Parsing it to
 * strings, checking it without building them, and writing it.
 */

/** Returns the pairs, or a text saying what is wrong with the layout. */
export function parseXenstoreData(data: Uint8Array): { pairs: [string, string][] } | { error: string } {
  if (data.length === 0) return { pairs: [] };
  if (data[data.length - 1] !== 0) return { error: 'xenstore data does not end with a NUL' };
  const strings: string[] = [];
  const dec = new TextDecoder();
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      strings.push(dec.decode(data.subarray(start, i)));
      start = i + 1;
    }
  }
  if (strings.length % 2 !== 0) return { error: `xenstore data holds ${strings.length} strings, expected key/value pairs` };
  const pairs: [string, string][] = [];
  for (let i = 0; i < strings.length; i += 2) {
    if (strings[i] === '') return { error: `xenstore data: key #${i / 2} is empty` };
    pairs.push([strings[i]!, strings[i + 1]!]);
  }
  return { pairs };
}

/**
 * The checks of parseXenstoreData without building strings: a huge record costs no more
 * than its own octets. `visit` sees each pair's key and value as views (false stops).
 */
export function scanXenstoreData(
  data: Uint8Array,
  visit?: (key: Uint8Array, value: Uint8Array, index: number) => boolean | void,
): { pairs: number } | { error: string } {
  if (data.length === 0) return { pairs: 0 };
  if (data[data.length - 1] !== 0) return { error: 'xenstore data does not end with a NUL' };
  let strings = 0;
  for (let i = data.indexOf(0); i >= 0; i = data.indexOf(0, i + 1)) strings++;
  if (strings % 2 !== 0) return { error: `xenstore data holds ${strings} strings, expected key/value pairs` };
  let start = 0;
  for (let n = 0; n < strings / 2; n++) {
    const keyEnd = data.indexOf(0, start);
    const valueEnd = data.indexOf(0, keyEnd + 1);
    if (keyEnd === start) return { error: `xenstore data: key #${n} is empty` };
    if (visit && visit(data.subarray(start, keyEnd), data.subarray(keyEnd + 1, valueEnd), n) === false) visit = undefined;
    start = valueEnd + 1;
  }
  return { pairs: strings / 2 };
}

export function encodeXenstoreData(pairs: [string, string][]): Uint8Array {
  return new TextEncoder().encode(pairs.map(([k, v]) => `${k}\0${v}\0`).join(''));
}
