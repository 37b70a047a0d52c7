/**
 * Hostile streams of issue 12, built small but with the shape a tester measured at scale:
 * page-type churn, a huge emulator xenstore record, a huge xl config, and many tiny
 * unknown optional records. Bodies are built with typed arrays (the Bytes builder is
 * too slow at these sizes).
 */
import { T, concat, cpuidBody, hvmContextBody, hvmParamsBody, libxcHeaders, msrBody, rec, tscBody, xlWrap } from './builder.js';

const enc = new TextEncoder();

function libxlHeader(): Uint8Array {
  const h = new Uint8Array(16);
  h.set(enc.encode('LibxlFmt'));
  new DataView(h.buffer).setUint32(8, 2, false);
  return h;
}

/** A v3 HVM libxc stream whose memory is `pagesRecords` (PAGE_DATA records) and one data page. */
function hvmLibxc(pageRecords: Uint8Array[]): Uint8Array {
  return concat(
    libxcHeaders({ version: 3, domainType: 2 }),
    rec(T.X86_CPUID_POLICY, cpuidBody([[0, 0xffffffff, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69]])),
    rec(T.X86_MSR_POLICY, msrBody([[0xce, 0, 0n]])),
    rec(T.STATIC_DATA_END),
    ...pageRecords,
    rec(T.X86_TSC_INFO, tscBody()),
    rec(T.HVM_CONTEXT, hvmContextBody(1)),
    rec(T.HVM_PARAMS, hvmParamsBody([[1n, 0xfeffen], [17n, 0xfefffn]])),
    rec(T.END),
  );
}

/** One PAGE_DATA record, types only (XTAB=0xf? no: type nibble given), no page contents. */
function typesOnlyPageData(pfns: number, start: number, typeOf: (pfn: number) => number): Uint8Array {
  const body = new Uint8Array(8 + 8 * pfns);
  const v = new DataView(body.buffer);
  v.setUint32(0, pfns, true);
  for (let i = 0; i < pfns; i++) {
    const pfn = start + i;
    v.setUint32(8 + 8 * i, pfn >>> 0, true);
    v.setUint32(12 + 8 * i, (typeOf(pfn) << 28) | Math.floor(pfn / 2 ** 32), true);
  }
  return rec(T.PAGE_DATA, body);
}

const XTAB = 0xf;
const XALLOC = 0xe;

/** Case 1: an xl stream of `pfns` pfns alternating XTAB/XALLOC, in batches of 1024. */
export function churnStream(pfns: number): Uint8Array {
  const recs: Uint8Array[] = [];
  for (let at = 0; at < pfns; at += 1024) recs.push(typesOnlyPageData(Math.min(1024, pfns - at), at, (p) => (p % 2 ? XALLOC : XTAB)));
  return xlWrap(concat(libxlHeader(), rec(1), hvmLibxc([typesOnlyPageData(1, pfns, () => XALLOC), ...recs]), rec(0)));
}

function emulatorRecord(type: number, data: Uint8Array): Uint8Array {
  const body = new Uint8Array(8 + data.length);
  const v = new DataView(body.buffer);
  v.setUint32(0, 2, true);
  body.set(data, 8);
  return rec(type, body);
}

/** Case 2: one EMULATOR_XENSTORE_DATA record of `pairs` short key/value pairs. */
export function xenstoreStream(pairs: number): Uint8Array {
  const parts: string[] = [];
  for (let i = 0; i < pairs; i++) parts.push(`physmap/${i}/size\0${(i * 4096).toString(16)}\0`);
  const data = enc.encode(parts.join(''));
  return xlWrap(concat(libxlHeader(), emulatorRecord(2, data), rec(1), hvmLibxc([typesOnlyPageData(16, 0, () => XALLOC)]), rec(0)));
}

/** Case 3: an xl header whose JSON config is `bytes` long. */
export function bigConfigStream(bytes: number): Uint8Array {
  const filler = 'x'.repeat(Math.max(0, bytes - 40));
  const config = `{"c_info":{"name":"big","pad":"${filler}"}}`;
  return xlWrap(concat(libxlHeader(), rec(1), hvmLibxc([typesOnlyPageData(16, 0, () => XALLOC)]), rec(0)), config);
}

/** Case 4: `n` zero-length unknown optional libxc records 0x80000123. */
export function unknownOptionalStream(n: number): Uint8Array {
  const one = rec(0x80000123);
  const many = new Uint8Array(one.length * n);
  for (let i = 0; i < n; i++) many.set(one, i * one.length);
  return xlWrap(concat(libxlHeader(), rec(1), hvmLibxc([typesOnlyPageData(16, 0, () => XALLOC), many]), rec(0)));
}

/** Case 5: `n` XTAB pfns 65536 apart (no memory at all) and one data-less XALLOC page. */
export function scatteredXtabStream(n: number): Uint8Array {
  const recs: Uint8Array[] = [];
  for (let at = 0; at < n; at += 1024) {
    const count = Math.min(1024, n - at);
    const body = new Uint8Array(8 + 8 * count);
    const v = new DataView(body.buffer);
    v.setUint32(0, count, true);
    for (let i = 0; i < count; i++) {
      const pfn = (at + i + 1) * 65536;
      v.setUint32(8 + 8 * i, pfn >>> 0, true);
      v.setUint32(12 + 8 * i, (XTAB << 28) | Math.floor(pfn / 2 ** 32), true);
    }
    recs.push(rec(T.PAGE_DATA, body));
  }
  return xlWrap(concat(libxlHeader(), rec(1), hvmLibxc([typesOnlyPageData(1, 0, () => XALLOC), ...recs]), rec(0)));
}

/** One PAGE_DATA record listing `n` consecutive pfns as XALLOC (no page contents): a 8n-octet batch. */
export function hugeBatchStream(n: number): Uint8Array {
  return hvmLibxc([typesOnlyPageData(n, 0, () => XALLOC)]);
}
