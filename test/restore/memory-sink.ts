/** A DomainSink in memory that logs every call in order, for engine tests. */
import type { DomainDescription, DomainSink, EmulatorData, VcpuContext } from '../../src/domain/types.js';

export class LogSink implements DomainSink {
  calls: string[] = [];
  pages = new Map<number, Uint8Array>();
  populated = new Set<number>();
  types = new Map<number, number>();
  desc?: DomainDescription;
  vcpus: VcpuContext[] = [];
  emulator: EmulatorData[] = [];
  config?: string;
  committed = false;
  aborted?: string;
  hvmContext?: Uint8Array;
  hvmParams: { index: bigint; value: bigint }[] = [];

  async begin(desc: DomainDescription) {
    this.calls.push('begin');
    this.desc = desc;
  }
  async setPvInfo() {
    this.calls.push('setPvInfo');
  }
  async setCpuPolicy() {
    this.calls.push('setCpuPolicy');
  }
  async setP2mFrames() {
    this.calls.push('setP2mFrames');
  }
  async populate(pfns: readonly number[]) {
    this.calls.push('populate');
    for (const p of pfns) {
      if (this.populated.has(p)) throw new Error(`pfn ${p} populated twice`);
      this.populated.add(p);
    }
  }
  async setPageTypes(pfns: readonly number[], types: readonly number[]) {
    this.calls.push('setPageTypes');
    pfns.forEach((p, i) => this.types.set(p, types[i]!));
  }
  async writePages(pfns: readonly number[], data: Uint8Array) {
    this.calls.push('writePages');
    pfns.forEach((p, i) => this.pages.set(p, data.slice(i * 4096, (i + 1) * 4096)));
  }
  async readPages(pfns: readonly number[], into: Uint8Array) {
    return pfns.map((p, i) => {
      const page = this.pages.get(p);
      if (page) into.set(page, i * 4096);
      else into.fill(0, i * 4096, (i + 1) * 4096);
      return page !== undefined;
    });
  }
  async setTscInfo() {
    this.calls.push('setTscInfo');
  }
  async setHvmParams(p: readonly { index: bigint; value: bigint }[]) {
    this.calls.push('setHvmParams');
    this.hvmParams = [...p];
  }
  async setHvmContext(b: Uint8Array) {
    this.calls.push('setHvmContext');
    this.hvmContext = b;
  }
  async setVcpuContext(c: VcpuContext) {
    this.calls.push('setVcpuContext');
    this.vcpus.push(c);
  }
  async setSharedInfo() {
    this.calls.push('setSharedInfo');
  }
  async setEmulatorData(e: EmulatorData) {
    this.calls.push('setEmulatorData');
    this.emulator.push(e);
  }
  async setConfig(c: string) {
    this.calls.push('setConfig');
    this.config = c;
  }
  async commit() {
    this.calls.push('commit');
    this.committed = true;
  }
  async abort(reason: string) {
    this.calls.push('abort');
    this.aborted = reason;
  }
}
