/**
 * domain.json, the memory image's description of everything but memory: one codec, from
 * a DomainState and the page types to the file's text (and the blob files it names) and
 * back. The format (format "xenmig-memory-image", version 1):
 *
 *   guestType "hvm" | "pv"; pageShift; source {streamVersion, xenMajor, xenMinor}
 *   memory {file, maxPfn (highest pfn with a type, -1 if none), populated (pages that
 *          hold memory), pageTypes: [[startPfn, count, typeName], ...] run-length encoded,
 *          or, past MAX_INLINE_RUNS runs, pageTypesFile {file, chunkPfns, chunks} instead}
 *   pvInfo {guestWidth, ptLevels}; p2mFrames {startPfn, endPfn, p2mPfns [hex]}
 *   cpuPolicy {cpuid [{leaf, subleaf, eax, ebx, ecx, edx} as hex], msrs [{index, flags, value} hex]}
 *   tsc {mode, khz, nsec (decimal string), incarnation}
 *   hvmParams {NAME: hex value} in stream order (names from src/format/hvm-params.ts)
 *   hvmContext {file}; sharedInfo {file}; vcpus [{vcpuId, kind, file}]
 *   emulator [{kind, emulatorId, emulator, index, file, xenstore? {key: value}}]
 *            (past MAX_XENSTORE_PAIRS_SHOWN pairs: xenstorePairs, a count, instead)
 *   config {file}: the xl domain config as text (JSON or xl.cfg syntax)
 * Absent things are absent keys. Numbers beyond 2^53 are strings. Images written by
 * earlier versions load unchanged (test/fixtures/images).
 */
import { MAX_XENSTORE_PAIRS_SHOWN, PAGE_SHIFT, PAGE_TYPE, emulatorName, pageTypeName, type GuestType } from '../../format/constants.js';
import { IoError } from '../../format/errors.js';
import { hvmParamIndexByName, hvmParamName } from '../../format/hvm-params.js';
import { parseXenstoreData, scanXenstoreData } from '../../format/libxl/xenstore-data.js';
import { DomainState } from '../state.js';
import type { EmulatorData, PvInfo, VcpuContextKind } from '../types.js';
import { SparsePfnBytes } from './pfn-map.js';

export const IMAGE_FORMAT = 'xenmig-memory-image';
export const IMAGE_VERSION = 1;
export const MEMORY_FILE = 'memory.raw';
export const DOMAIN_FILE = 'domain.json';

/**
 * Page-type runs spelled out in domain.json. A guest whose types churn (a ballooned guest's
 * XTAB/NOTAB every other pfn, or a hostile stream) would make it hundreds of MB; beyond
 * this its types go to page-types.bin, one octet (type + 1, 0 = never sent) per pfn of
 * each 4 Ki-pfn chunk touched: bounded by the guest's pfns, not by the records.
 */
export const MAX_INLINE_RUNS = 65536;
const PAGE_TYPES_FILE = 'page-types.bin';

/** Types that leave a pfn without memory. */
export function pageTypeIsPopulated(t: number): boolean {
  return t !== PAGE_TYPE.XTAB && t !== PAGE_TYPE.BROKEN;
}

const PAGE_TYPE_BY_NAME = new Map(Object.entries(PAGE_TYPE).map(([k, v]) => [k, v as number]));

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

export interface ImageJson {
  format: string;
  version: number;
  guestType: GuestType;
  pageShift: number;
  source: { streamVersion: number; xenMajor: number; xenMinor: number };
  memory: {
    file: string;
    maxPfn: number;
    populated: number;
    /** Absent when the types change more than MAX_INLINE_RUNS times: then `pageTypesFile`. */
    pageTypes?: [number, number, string][];
    pageTypesFile?: { file: string; chunkPfns: number; chunks: number[] };
  };
  pvInfo?: PvInfo;
  p2mFrames?: { startPfn: number; endPfn: number; p2mPfns: string[] };
  cpuPolicy?: {
    cpuid?: { leaf: string; subleaf: string; eax: string; ebx: string; ecx: string; edx: string }[];
    msrs?: { index: string; flags: string; value: string }[];
  };
  tsc?: { mode: number; khz: number; nsec: string; incarnation: number };
  hvmParams?: Record<string, string>;
  hvmContext?: { file: string };
  sharedInfo?: { file: string };
  vcpus?: { vcpuId: number; kind: VcpuContextKind; file: string }[];
  emulator?: { kind: EmulatorData['kind']; emulatorId: number; emulator: string; index: number; file: string; xenstore?: Record<string, string>; xenstorePairs?: number }[];
  config?: { file: string };
}

const vcpuFile = (c: { vcpuId: number; kind: string }): string => `vcpu${c.vcpuId}-${c.kind}.bin`;
const emulatorFile = (e: EmulatorData): string => `emulator-${e.kind}-${e.emulatorId}-${e.index}.bin`;

/** An image's domain.json and the files it names beside it (memory.raw aside). */
export interface EncodedImage {
  json: string;
  files: [string, Uint8Array][];
}

/**
 * The domain.json of a domain in `state` whose page types are `types` (type + 1 per pfn,
 * 0 never seen), with its blob files. The state must have a description.
 */
export function encodeDomainJson(state: DomainState, types: SparsePfnBytes): EncodedImage {
  const inline = types.countRuns() <= MAX_INLINE_RUNS;
  const j = toJson(state, types, inline);
  const files: [string, Uint8Array][] = [];
  if (!inline) {
    const chunks = types.chunks();
    const all = new Uint8Array(chunks.length * SparsePfnBytes.CHUNK_PFNS);
    chunks.forEach(([, c], i) => all.set(c, i * SparsePfnBytes.CHUNK_PFNS));
    files.push([PAGE_TYPES_FILE, all]);
  }
  if (state.hvmContext) files.push(['hvm-context.bin', state.hvmContext]);
  if (state.sharedInfo) files.push(['shared-info.bin', state.sharedInfo]);
  for (const v of state.vcpuContexts) files.push([vcpuFile(v), v.data]);
  for (const e of state.emulatorData) files.push([emulatorFile(e), e.data]);
  if (state.config !== undefined) files.push(['config', new TextEncoder().encode(state.config)]);
  return { json: formatImageJson(j), files };
}

function toJson(s: DomainState, types: SparsePfnBytes, inline: boolean): ImageJson {
  const d = s.desc!;
  const pageTypes: [number, number, string][] = [];
  let populated = 0;
  for (const [start, count, v] of types.runs()) {
    if (inline) pageTypes.push([start, count, pageTypeName(v - 1)]);
    if (pageTypeIsPopulated(v - 1)) populated += count;
  }
  const memory: ImageJson['memory'] = { file: MEMORY_FILE, maxPfn: types.maxPfn, populated };
  if (inline) memory.pageTypes = pageTypes;
  else {
    const chunkPfns = SparsePfnBytes.CHUNK_PFNS;
    memory.pageTypesFile = { file: PAGE_TYPES_FILE, chunkPfns, chunks: types.chunks().map(([key]) => key * chunkPfns) };
  }
  const j: ImageJson = {
    format: IMAGE_FORMAT,
    version: IMAGE_VERSION,
    guestType: d.guestType,
    pageShift: d.pageShift,
    source: { streamVersion: d.streamVersion, xenMajor: d.xenMajor, xenMinor: d.xenMinor },
    memory,
  };
  if (s.pvInfo) j.pvInfo = { guestWidth: s.pvInfo.guestWidth, ptLevels: s.pvInfo.ptLevels };
  if (s.p2mFrames) j.p2mFrames = { startPfn: s.p2mFrames.startPfn, endPfn: s.p2mFrames.endPfn, p2mPfns: s.p2mFrames.p2mPfns.map(hex) };
  if (s.cpuPolicy.cpuid || s.cpuPolicy.msrs) {
    j.cpuPolicy = {};
    if (s.cpuPolicy.cpuid) {
      j.cpuPolicy.cpuid = s.cpuPolicy.cpuid.map((e) => ({
        leaf: hex(e.leaf), subleaf: hex(e.subleaf), eax: hex(e.eax), ebx: hex(e.ebx), ecx: hex(e.ecx), edx: hex(e.edx),
      }));
    }
    if (s.cpuPolicy.msrs) j.cpuPolicy.msrs = s.cpuPolicy.msrs.map((e) => ({ index: hex(e.index), flags: hex(e.flags), value: hex(e.value) }));
  }
  if (s.tsc) j.tsc = { mode: s.tsc.mode, khz: s.tsc.khz, nsec: s.tsc.nsec.toString(), incarnation: s.tsc.incarnation };
  if (s.hvmParams.length > 0) j.hvmParams = Object.fromEntries(s.hvmParams.map((p) => [hvmParamName(p.index), hex(p.value)]));
  if (s.hvmContext) j.hvmContext = { file: 'hvm-context.bin' };
  if (s.sharedInfo) j.sharedInfo = { file: 'shared-info.bin' };
  const vcpus = s.vcpuContexts;
  if (vcpus.length > 0) j.vcpus = vcpus.map((v) => ({ vcpuId: v.vcpuId, kind: v.kind, file: vcpuFile(v) }));
  const emulator = s.emulatorData;
  if (emulator.length > 0) {
    j.emulator = emulator.map((e) => {
      const entry: NonNullable<ImageJson['emulator']>[number] = {
        kind: e.kind, emulatorId: e.emulatorId, emulator: emulatorName(e.emulatorId), index: e.index, file: emulatorFile(e),
      };
      if (e.kind === 'xenstore') {
        const scanned = scanXenstoreData(e.data);
        if ('pairs' in scanned && scanned.pairs <= MAX_XENSTORE_PAIRS_SHOWN) {
          const parsed = parseXenstoreData(e.data);
          if ('pairs' in parsed) entry.xenstore = Object.fromEntries(parsed.pairs);
        } else if ('pairs' in scanned) entry.xenstorePairs = scanned.pairs;
      }
      return entry;
    });
  }
  if (s.config !== undefined) j.config = { file: 'config' };
  return j;
}

/** Pretty, but with each page-type run on one line: a fragmented guest has many. */
function formatImageJson(j: ImageJson): string {
  return JSON.stringify(j, null, 2).replace(/\[\s+(\d+),\s+(\d+),\s+("\w+")\s+\]/g, '[$1, $2, $3]') + '\n';
}

/**
 * The text of `dir`'s domain.json as an ImageJson of this format and version; an IoError
 * naming the image otherwise.
 */
export function parseDomainJson(dir: string, text: string): ImageJson {
  let json: ImageJson;
  try {
    json = JSON.parse(text) as ImageJson;
  } catch (err) {
    throw new IoError(`${dir} is not a memory image: cannot read ${DOMAIN_FILE}: ${(err as Error).message}`, { cause: err });
  }
  if (json.format !== IMAGE_FORMAT || json.version !== IMAGE_VERSION) {
    throw new IoError(`${dir}/${DOMAIN_FILE}: format ${String(json.format)} version ${String(json.version)}, expected ${IMAGE_FORMAT} version ${IMAGE_VERSION}`);
  }
  return json;
}

/**
 * The state and page types a parsed domain.json describes; `readFile` reads a file the
 * image names (a plain name inside it).
 */
export async function decodeDomainJson(
  dir: string,
  j: ImageJson,
  readFile: (name: unknown) => Promise<Uint8Array>,
): Promise<{ state: DomainState; types: SparsePfnBytes }> {
  const s = new DomainState();
  const types = new SparsePfnBytes();
  if (j.guestType !== 'pv' && j.guestType !== 'hvm') throw new IoError(`${dir}: unknown guest type ${String(j.guestType)}`);
  s.desc = { guestType: j.guestType, pageShift: j.pageShift ?? PAGE_SHIFT, ...j.source };
  for (const [start, count, name] of j.memory.pageTypes ?? []) {
    const t = PAGE_TYPE_BY_NAME.get(name);
    if (t === undefined) throw new IoError(`${dir}/${DOMAIN_FILE}: unknown page type ${name}`);
    for (let i = 0; i < count; i++) types.set(start + i, t + 1);
  }
  const typesFile = j.memory.pageTypesFile;
  if (typesFile) {
    const chunkPfns = SparsePfnBytes.CHUNK_PFNS;
    const bytes = await readFile(typesFile.file);
    if (typesFile.chunkPfns !== chunkPfns || bytes.length !== typesFile.chunks.length * chunkPfns) {
      throw new IoError(`${dir}/${typesFile.file}: expected ${typesFile.chunks.length} chunk(s) of ${chunkPfns} octets`);
    }
    typesFile.chunks.forEach((first, i) => {
      if (!Number.isSafeInteger(first) || first % chunkPfns !== 0) throw new IoError(`${dir}/${DOMAIN_FILE}: page-type chunk ${String(first)} is not a multiple of ${chunkPfns}`);
      types.setChunk(first / chunkPfns, bytes.slice(i * chunkPfns, (i + 1) * chunkPfns));
    });
  }
  if (j.pvInfo) s.pvInfo = j.pvInfo;
  if (j.p2mFrames) s.p2mFrames = { startPfn: j.p2mFrames.startPfn, endPfn: j.p2mFrames.endPfn, p2mPfns: j.p2mFrames.p2mPfns.map((p) => BigInt(p)) };
  if (j.cpuPolicy?.cpuid) {
    s.cpuPolicy.cpuid = j.cpuPolicy.cpuid.map((e) => ({
      leaf: Number(e.leaf), subleaf: Number(e.subleaf), eax: Number(e.eax), ebx: Number(e.ebx), ecx: Number(e.ecx), edx: Number(e.edx),
    }));
  }
  if (j.cpuPolicy?.msrs) s.cpuPolicy.msrs = j.cpuPolicy.msrs.map((e) => ({ index: Number(e.index), flags: Number(e.flags), value: BigInt(e.value) }));
  if (j.tsc) s.tsc = { mode: j.tsc.mode, khz: j.tsc.khz, nsec: BigInt(j.tsc.nsec), incarnation: j.tsc.incarnation };
  for (const [name, value] of Object.entries(j.hvmParams ?? {})) {
    const index = hvmParamIndexByName(name);
    if (index === undefined) throw new IoError(`${dir}/${DOMAIN_FILE}: unknown HVM param ${name}`);
    s.hvmParams.push({ index, value: BigInt(value) });
  }
  if (j.hvmContext) s.hvmContext = await readFile(j.hvmContext.file);
  if (j.sharedInfo) s.sharedInfo = await readFile(j.sharedInfo.file);
  const vcpus = [];
  for (const v of j.vcpus ?? []) vcpus.push({ vcpuId: v.vcpuId, kind: v.kind, data: await readFile(v.file) });
  s.vcpuContexts = vcpus;
  const emulator: EmulatorData[] = [];
  for (const e of j.emulator ?? []) emulator.push({ kind: e.kind, emulatorId: e.emulatorId, index: e.index, data: await readFile(e.file) });
  s.emulatorData = emulator;
  if (j.config) s.config = new TextDecoder().decode(await readFile(j.config.file));
  return { state: s, types };
}
