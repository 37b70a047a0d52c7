/**
 * A memory-only DomainSink: the pages of a stream written to a raw pfn-addressed file
 * and/or an ELF core, each under a temporary name renamed into place on commit.
 * Everything that is not memory is dropped (that is what extract means).
 */
import { rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PAGE_SIZE } from '../../format/constants.js';
import { UsageError } from '../../format/errors.js';
import { releaseTemp, sweepStaleTemps, tempPathFor } from '../../io/temp-files.js';
import type { VcpuRegisters } from '../../format/vcpu-registers.js';
import type { DomainSink, PvInfo, VcpuContext } from '../types.js';
import { ELF_DATA_BASE, elfCoreTables, vcpuNotes, type PfnRun } from './elf-core.js';
import { pageTypeIsPopulated } from './domain-json.js';
import { DOMAIN_FILE } from './domain-json.js';
import { MemoryImage } from './memory-image.js';
import { PageFile } from './page-file.js';
import { SparsePfnBytes } from './pfn-map.js';
import { hvmVcpuRegisters, pvVcpuRegisters } from './vcpu-state.js';

export interface MemoryFilesOptions {
  raw?: string;
  elf?: string;
  force?: boolean;
  /** Write synchronously (see PageFileOptions): for a local input, not a live one. */
  blocking?: boolean;
}

interface Output {
  kind: 'raw' | 'elf';
  target: string;
  file: PageFile;
}

export class MemoryFilesSink implements DomainSink {
  private readonly types = new SparsePfnBytes();
  private done = false;
  /** What the ELF core's notes are written from (the rest of the domain is dropped). */
  private hvmContext: Uint8Array | undefined;
  private pvInfo: PvInfo | undefined;
  private readonly vcpuContexts: VcpuContext[] = [];

  private constructor(private readonly outputs: Output[]) {}

  static async create(opts: MemoryFilesOptions): Promise<MemoryFilesSink> {
    const wanted: [Output['kind'], string][] = [];
    if (opts.raw !== undefined) wanted.push(['raw', opts.raw]);
    if (opts.elf !== undefined) wanted.push(['elf', opts.elf]);
    if (wanted.length === 0) throw new UsageError('nothing to write: give --raw FILE and/or --elf FILE');
    for (const [, target] of wanted) {
      if (target === '-') throw new UsageError('memory files are written by position: give a file name, not "-"');
      if (!opts.force && (await stat(target).then(() => true, () => false))) throw new UsageError(`${target} exists; use --force to replace it`);
    }
    const outputs: Output[] = [];
    for (const [, target] of wanted) await sweepStaleTemps(target);
    try {
      for (const [kind, target] of wanted) {
        outputs.push({ kind, target, file: await PageFile.create(tempPathFor(target), kind === 'elf' ? ELF_DATA_BASE : 0, { blocking: opts.blocking ?? false }) });
      }
    } catch (err) {
      for (const o of outputs) {
        await o.file.close().then(() => unlink(o.file.path)).catch(() => undefined);
        releaseTemp(o.file.path);
      }
      throw err;
    }
    return new MemoryFilesSink(outputs);
  }

  async begin(): Promise<void> {}
  async setPvInfo(info: PvInfo): Promise<void> {
    this.pvInfo = { ...info };
  }
  async setCpuPolicy(): Promise<void> {}
  async setP2mFrames(): Promise<void> {}
  async setTscInfo(): Promise<void> {}
  async setHvmParams(): Promise<void> {}
  async setHvmContext(blob: Uint8Array): Promise<void> {
    this.hvmContext = blob.slice();
  }
  async setVcpuContext(ctx: VcpuContext): Promise<void> {
    if (ctx.kind === 'basic') this.vcpuContexts.push({ ...ctx, data: ctx.data.slice() });
  }
  async setSharedInfo(): Promise<void> {}
  async setEmulatorData(): Promise<void> {}
  async setConfig(): Promise<void> {}

  async populate(pfns: readonly number[]): Promise<void> {
    for (const pfn of pfns) if (this.types.get(pfn) === 0) this.types.set(pfn, 1);
  }

  async setPageTypes(pfns: readonly number[], types: readonly number[]): Promise<void> {
    for (let i = 0; i < pfns.length; i++) {
      // Only memory is extracted: a pfn without it, far from any, need not open a chunk.
      if (!pageTypeIsPopulated(types[i]!) && !this.types.hasChunk(pfns[i]!)) continue;
      this.types.set(pfns[i]!, types[i]! + 1);
    }
  }

  async writePages(pfns: readonly number[], data: Uint8Array): Promise<void> {
    for (const o of this.outputs) await o.file.writePages(pfns, data);
  }

  async readPages(pfns: readonly number[], into: Uint8Array): Promise<boolean[]> {
    await this.outputs[0]!.file.readPages(pfns, into);
    return pfns.map((pfn, i) => {
      const v = this.types.get(pfn);
      const present = v !== 0 && pageTypeIsPopulated(v - 1);
      if (!present) into.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      return present;
    });
  }

  /** The vcpus' registers the ELF core's notes carry (HVM CPU records, or 64-bit PV basic contexts). */
  vcpuRegisters(): VcpuRegisters[] {
    if (this.hvmContext) return hvmVcpuRegisters(this.hvmContext);
    return pvVcpuRegisters(this.vcpuContexts, this.pvInfo?.guestWidth ?? 8);
  }

  /** Runs of pfns that hold memory (with data or allocated only). */
  runs(): PfnRun[] {
    const out: PfnRun[] = [];
    for (const [start, count, v] of this.types.runs()) {
      if (!pageTypeIsPopulated(v - 1)) continue;
      const last = out.at(-1);
      if (last && last.start + last.count === start) last.count += count;
      else out.push({ start, count });
    }
    return out;
  }

  async commit(): Promise<void> {
    if (this.done) return;
    this.done = true;
    const runs = this.runs();
    const maxPfn = runs.length > 0 ? runs.at(-1)!.start + runs.at(-1)!.count - 1 : -1;
    try {
      for (const o of this.outputs) {
        if (o.kind === 'raw') {
          await o.file.truncate((maxPfn + 1) * PAGE_SIZE);
        } else {
          const { header, tables, tablesAt, end } = elfCoreTables(runs, maxPfn, vcpuNotes(this.vcpuRegisters()));
          await o.file.truncate(end);
          await o.file.writeAt(tables, tablesAt);
          await o.file.writeAt(header, 0);
        }
        await o.file.sync();
        await o.file.close();
      }
      for (const o of this.outputs) {
        await rename(o.file.path, o.target);
        releaseTemp(o.file.path);
      }
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    for (const o of this.outputs) {
      await o.file.close();
      await unlink(o.file.path).catch(() => undefined);
      releaseTemp(o.file.path);
    }
  }
}

/** Whether `path` is a memory image directory (holds a domain.json). */
export async function isMemoryImageDir(path: string): Promise<boolean> {
  if (path === '-') return false;
  const st = await stat(path).catch(() => undefined);
  return st?.isDirectory() === true && (await stat(join(path, DOMAIN_FILE)).catch(() => undefined)) !== undefined;
}

/** Pages copied from an image at a time, and page types handed over at a time. */
const IMAGE_PIECE = 64;
const TYPE_SLICE = 65536;

/**
 * A memory image's memory and vcpu state (domain.json's HVM context or PV vcpu records)
 * into memory files, as `extract` of the stream it was restored from would write them.
 * Commits the sink; aborts it on failure. Returns the pfns written.
 */
export async function extractImage(dir: string, sink: MemoryFilesSink): Promise<number> {
  let written = 0;
  const img = await MemoryImage.open(dir).catch(async (err: unknown) => {
    await sink.abort();
    throw err;
  });
  try {
    await sink.begin();
    const pv = await img.getPvInfo();
    if (pv) await sink.setPvInfo(pv);
    const ctx = await img.getHvmContext();
    if (ctx) await sink.setHvmContext(ctx);
    for (const v of await img.getVcpuContexts()) await sink.setVcpuContext(v);
    const buf = new Uint8Array(IMAGE_PIECE * PAGE_SIZE);
    const pfns: number[] = [];
    const flush = async (): Promise<void> => {
      if (pfns.length === 0) return;
      await img.readPages(pfns, buf.subarray(0, pfns.length * PAGE_SIZE));
      await sink.writePages(pfns, buf.subarray(0, pfns.length * PAGE_SIZE));
      written += pfns.length;
      pfns.length = 0;
    };
    for (const [start, count, type] of img.pageTypeRuns()) {
      // A run may span millions of pfns: its types go over in slices.
      for (let first = 0; first < count; first += TYPE_SLICE) {
        const run = Array.from({ length: Math.min(TYPE_SLICE, count - first) }, (_, i) => start + first + i);
        await sink.setPageTypes(run, run.map(() => type));
        if (!pageTypeIsPopulated(type)) continue;
        for (const pfn of run) {
          pfns.push(pfn);
          if (pfns.length === IMAGE_PIECE) await flush();
        }
      }
    }
    await flush();
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  } finally {
    await img.close();
  }
  return written;
}
