/**
 * The memory image: a restored domain as a directory, readable by people and tools,
 * and a domain the save engine can send again.
 *
 *   DIR/memory.raw     sparse; pfn N at offset N*4096; holes for pages never sent.
 *                      Its size is (highest pfn + 1) * 4096.
 *   DIR/domain.json    everything else (below); bigger blobs are files beside it.
 *   DIR/vcpuN-KIND.bin X86_PV_VCPU_{BASIC,EXTENDED,XSAVE,MSRS} context of vcpu N
 *   DIR/hvm-context.bin, DIR/shared-info.bin, DIR/emulator-KIND-ID-INDEX.bin, DIR/config
 *
 * domain.json: see domain-json.ts (its one codec). The state it holds besides memory
 * and page types is a DomainState (src/domain/state.ts), shared with the simulated domain.
 *
 * Writing goes to a temporary directory beside DIR that is renamed into place on
 * commit; abort removes it, so a failed restore leaves nothing half made.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { PAGE_SIZE, PAGE_TYPE, type GuestType } from '../../format/constants.js';
import { IoError, StreamFormatError, UsageError } from '../../format/errors.js';
import type { HvmParam } from '../../format/records.js';
import { releaseTemp, sweepStaleTemps, tempPathFor } from '../../io/temp-files.js';
import { DomainState } from '../state.js';
import type {
  CpuPolicyData,
  DirtyLog,
  DomainDescription,
  DomainSink,
  DomainSource,
  EmulatorData,
  P2mFrames,
  PvInfo,
  TscInfo,
  VcpuContext,
} from '../types.js';
import { DOMAIN_FILE, IMAGE_FORMAT, MEMORY_FILE, decodeDomainJson, encodeDomainJson, pageTypeIsPopulated, parseDomainJson, type ImageJson } from './domain-json.js';
import { PageFile } from './page-file.js';
import { SparsePfnBytes } from './pfn-map.js';

/**
 * Chunks of page types (4 KiB each) a restore may open for pfns without memory: 32 MiB.
 * Beyond, an XTAB pfn far from memory is not recorded (it reads as XTAB all the same: the
 * image's maxPfn and XTAB runs then leave it out) and a BROKEN one is refused.
 */
export const MAX_IDLE_CHUNKS = 8192;

export interface CreateImageOptions {
  /** Replace an existing DIR (only once the new image is complete). */
  force?: boolean;
  /** Write memory synchronously (see PageFileOptions): for a local input, not a live one. */
  blocking?: boolean;
}

export class MemoryImage implements DomainSink, DomainSource {
  private state = new DomainState();
  /** type + 1 per pfn; 0 = never seen. */
  private types = new SparsePfnBytes();
  /** Page-type chunks opened by pfns without memory (XTAB, BROKEN). */
  private idleChunks = 0;
  private finished = false;
  private isRunning = true;

  private constructor(
    /** Where the image is now: the temporary directory until commit. */
    private where: string,
    /** Where it goes on commit. */
    readonly dir: string,
    private readonly memory: PageFile,
    private readonly force: boolean,
  ) {}

  /**
   * A new, empty image to restore into; visible at `dir` only after commit. With `force`
   * an existing memory image (or an empty directory) is replaced; anything else is refused.
   */
  static async create(dir: string, opts: CreateImageOptions = {}): Promise<MemoryImage> {
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (exists && !opts.force) throw new UsageError(`${dir} exists; use --force to replace it`);
    if (exists) await refuseUnlessImage(dir);
    await sweepStaleTemps(dir.replace(/\/+$/, ''));
    const tmp = tempPathFor(dir.replace(/\/+$/, ''));
    try {
      await mkdir(tmp);
    } catch (err) {
      releaseTemp(tmp);
      throw new IoError(`cannot create ${dir}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const memory = await PageFile.create(join(tmp, MEMORY_FILE), 0, { blocking: opts.blocking ?? false });
      return new MemoryImage(tmp, dir, memory, opts.force ?? false);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      releaseTemp(tmp);
      throw err;
    }
  }

  /** An existing image, as a domain source (and a sink for a later restore in place is not offered). */
  static async open(dir: string): Promise<MemoryImage> {
    let text: string;
    try {
      text = await readFile(join(dir, DOMAIN_FILE), 'utf8');
    } catch (err) {
      throw new IoError(`${dir} is not a memory image: cannot read ${DOMAIN_FILE}: ${(err as Error).message}`, { cause: err });
    }
    const json = parseDomainJson(dir, text);
    const memory = await PageFile.openRead(imageFile(dir, json.memory.file));
    const img = new MemoryImage(dir, dir, memory, false);
    const { state, types } = await decodeDomainJson(dir, json, async (name) => new Uint8Array(await readFile(imageFile(dir, name))));
    img.state = state;
    img.types = types;
    img.finished = true;
    return img;
  }

  get path(): string {
    return this.where;
  }

  // ---- DomainSink ----------------------------------------------------------------------
  async begin(desc: DomainDescription): Promise<void> {
    this.state.desc = desc;
  }

  async setPvInfo(info: PvInfo): Promise<void> {
    this.state.setPvInfo(info);
  }

  async setCpuPolicy(policy: CpuPolicyData): Promise<void> {
    this.state.setCpuPolicy(policy);
  }

  async setP2mFrames(frames: P2mFrames): Promise<void> {
    this.state.setP2mFrames(frames);
  }

  async populate(pfns: readonly number[]): Promise<void> {
    const t = this.types;
    for (const pfn of pfns) if (t.get(pfn) === 0) t.set(pfn, PAGE_TYPE.NOTAB + 1);
  }

  async setPageTypes(pfns: readonly number[], types: readonly number[]): Promise<void> {
    const t = this.types;
    for (let i = 0; i < pfns.length; i++) {
      const pfn = pfns[i]!;
      const type = types[i]!;
      // XTAB/BROKEN far from any memory: a chunk each would grow with the records, not the guest.
      if (!pageTypeIsPopulated(type) && !t.hasChunk(pfn)) {
        if (this.idleChunks >= MAX_IDLE_CHUNKS) {
          if (type === PAGE_TYPE.XTAB) continue; // never seen reads as XTAB anyway
          throw new StreamFormatError(
            `BROKEN pfn 0x${pfn.toString(16)} is one more pfn without memory past ${MAX_IDLE_CHUNKS} chunks of ${SparsePfnBytes.CHUNK_PFNS} pfns holding none: refusing (the memory image's bound on page types without memory)`,
          );
        }
        this.idleChunks++;
      }
      t.set(pfn, type + 1);
    }
  }

  async writePages(pfns: readonly number[], data: Uint8Array): Promise<void> {
    await this.memory.writePages(pfns, data);
  }

  /** Queued: written in order while the stream goes on (see PageFile.queuePages). */
  async writePageViews(pfns: readonly number[], views: readonly Uint8Array[], done: () => void): Promise<void> {
    await this.memory.queuePages(pfns, views, done);
  }

  async flush(): Promise<void> {
    await this.memory.drain();
  }

  async readPages(pfns: readonly number[], into: Uint8Array): Promise<boolean[]> {
    await this.memory.readPages(pfns, into);
    return pfns.map((pfn, i) => {
      const v = this.types.get(pfn);
      const present = v !== 0 && pageTypeIsPopulated(v - 1);
      if (!present) into.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      return present;
    });
  }

  async setTscInfo(tsc: TscInfo): Promise<void> {
    this.state.setTscInfo(tsc);
  }

  async setHvmParams(params: readonly HvmParam[]): Promise<void> {
    this.state.setHvmParams(params);
  }

  async setHvmContext(blob: Uint8Array): Promise<void> {
    this.state.setHvmContext(blob);
  }

  async setVcpuContext(ctx: VcpuContext): Promise<void> {
    this.state.setVcpuContext(ctx);
  }

  async setSharedInfo(page: Uint8Array): Promise<void> {
    this.state.setSharedInfo(page);
  }

  async setEmulatorData(data: EmulatorData): Promise<void> {
    this.state.setEmulatorData(data);
  }

  async setConfig(config: string): Promise<void> {
    this.state.setConfig(config);
  }

  async commit(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const tmp = this.where;
    try {
      if (!this.state.desc) throw new IoError(`no domain was restored into ${this.dir}`);
      await this.memory.truncate((this.types.maxPfn + 1) * PAGE_SIZE);
      const { json, files } = encodeDomainJson(this.state, this.types);
      // The memory's fsync and every small file's at once: they share the file system's
      // journal commits, where one after another each waited for its own.
      const all = [...files, [DOMAIN_FILE, new TextEncoder().encode(json)] as const];
      const written = await Promise.allSettled([this.memory.sync(), ...all.map(([name, bytes]) => writeDurably(join(tmp, name), bytes))]);
      const failed = written.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      await syncDir(tmp);
      let old: string | undefined;
      if (this.force && (await stat(this.dir).then(() => true, () => false))) {
        // Not a tracked temporary: killed between these renames, the old image must survive.
        const aside = tempPathFor(this.dir.replace(/\/+$/, ''));
        releaseTemp(aside);
        old = aside + '.old';
        await rename(this.dir, old);
      }
      await rename(tmp, this.dir);
      releaseTemp(tmp);
      if (old) await rm(old, { recursive: true, force: true });
      this.where = this.dir;
    } catch (err) {
      await this.memory.close();
      await rm(tmp, { recursive: true, force: true });
      releaseTemp(tmp);
      if (err instanceof IoError) throw err;
      throw new IoError(`finishing ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  async abort(_reason: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.memory.close();
    await rm(this.where, { recursive: true, force: true });
    releaseTemp(this.where);
  }

  async close(): Promise<void> {
    await this.memory.close();
  }

  // ---- DomainSource --------------------------------------------------------------------
  get guestType(): GuestType {
    return this.description().guestType;
  }

  get maxPfn(): number {
    const p2mEnd = this.state.p2mFrames ? this.state.p2mFrames.endPfn + 1 : 0;
    return Math.max(this.types.maxPfn + 1, p2mEnd);
  }

  describe(): DomainDescription {
    return { ...this.description() };
  }

  private description(): DomainDescription {
    if (!this.state.desc) throw new IoError(`${this.dir}: no domain restored yet`);
    return this.state.desc;
  }

  async populatedPfns(): Promise<number[]> {
    const out: number[] = [];
    for (const [start, count, v] of this.types.runs()) {
      if (pageTypeIsPopulated(v - 1)) for (let i = 0; i < count; i++) out.push(start + i);
    }
    return out;
  }

  /** Page types in runs, ascending: [startPfn, count, type] (pfns never sent are left out). */
  *pageTypeRuns(): Generator<[number, number, number]> {
    for (const [start, count, v] of this.types.runs()) yield [start, count, v - 1];
  }

  /** Whether the domain came with X86_TSC_INFO (getTscInfo gives zeros otherwise). */
  get hasTscInfo(): boolean {
    return this.state.tsc !== undefined;
  }

  async pageTypes(pfns: readonly number[]): Promise<number[]> {
    return pfns.map((pfn) => {
      const v = this.types.get(pfn);
      return v === 0 ? PAGE_TYPE.XTAB : v - 1;
    });
  }

  /** A static image never changes under us: its dirty log is always empty. */
  async enableDirtyLogging(): Promise<DirtyLog> {
    return { readAndClear: async () => [], peek: async () => 0 };
  }

  async disableDirtyLogging(): Promise<void> {}

  async suspend(): Promise<void> {
    this.isRunning = false;
  }

  async resume(): Promise<void> {
    this.isRunning = true;
  }

  get running(): boolean {
    return this.isRunning;
  }

  async getPvInfo(): Promise<PvInfo | undefined> {
    return this.state.pvInfo;
  }
  async getCpuPolicy(): Promise<CpuPolicyData> {
    return this.state.cpuPolicy;
  }
  async getP2mFrames(): Promise<P2mFrames | undefined> {
    return this.state.p2mFrames;
  }
  async getTscInfo(): Promise<TscInfo> {
    return this.state.tscInfo;
  }
  async getHvmParams(): Promise<HvmParam[]> {
    return this.state.hvmParams.map((p) => ({ ...p }));
  }
  async getHvmContext(): Promise<Uint8Array | undefined> {
    return this.state.hvmContext;
  }
  async getVcpuContexts(): Promise<VcpuContext[]> {
    return this.state.vcpuContexts;
  }
  async getSharedInfo(): Promise<Uint8Array | undefined> {
    return this.state.sharedInfo;
  }
  async getEmulatorData(): Promise<EmulatorData[]> {
    return this.state.emulatorData;
  }
  async getConfig(): Promise<string | undefined> {
    return this.state.config;
  }
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  await writeFile(path, bytes);
  const h = await open(path, 'r');
  await h.sync().finally(() => h.close());
}

async function syncDir(path: string): Promise<void> {
  const h = await open(path, 'r');
  await h.sync().catch(() => undefined).finally(() => h.close());
}

/**
 * `--force` replaces a memory image, never an arbitrary directory or file a mistyped
 * `--into` happens to name: the old directory must hold a domain.json of this format,
 * or nothing at all.
 */
async function refuseUnlessImage(dir: string): Promise<void> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw new UsageError(`${dir} exists and is not a directory; --force replaces only memory images`);
  const entries = await readdir(dir);
  if (entries.length === 0) return;
  let json: Partial<ImageJson> | undefined;
  try {
    json = JSON.parse(await readFile(join(dir, DOMAIN_FILE), 'utf8')) as Partial<ImageJson>;
  } catch {
    json = undefined;
  }
  if (json?.format !== IMAGE_FORMAT) {
    throw new UsageError(`${dir} exists and is not a memory image (no ${DOMAIN_FILE} of format ${IMAGE_FORMAT}); --force replaces only memory images`);
  }
}

/** A file an image's domain.json names: a plain name inside the image, never a path leading out of it. */
function imageFile(dir: string, name: unknown): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new IoError(`${dir}/${DOMAIN_FILE} names the file ${JSON.stringify(name)}; an image's files are plain names inside it`);
  }
  return join(dir, name);
}
