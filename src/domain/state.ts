/**
 * Everything a domain is besides its memory and page types: the description, CPU policy,
 * PV info and P2M frames, TSC, HVM params and context, vcpu contexts, shared info,
 * emulator records and the xl config. Both domains we run (the memory image on disk and
 * the simulated domain in memory) keep it here, so a restore fills it the same way
 * whichever domain it fills, and a save reads it back the same way. domain.json is its
 * form on disk (src/domain/image/domain-json.ts).
 *
 * What a restorer sets is copied (a sink receives views of reused buffers). A record
 * that comes again (a checkpointed stream repeats its context records) replaces the one
 * before it: HVM params by index, vcpu contexts by vcpu and kind, emulator records by
 * kind, emulator and index, as Xen's own restore sets them.
 */
import type { HvmParam } from '../format/records.js';
import type { CpuPolicyData, DomainDescription, EmulatorData, P2mFrames, PvInfo, TscInfo, VcpuContext, VcpuContextKind, DomainSource } from './types.js';

export const VCPU_KINDS: readonly VcpuContextKind[] = ['basic', 'extended', 'xsave', 'msrs'];

/** What a domain without TSC information reports (libxc sends zeros for a guest that never had any). */
const NO_TSC: TscInfo = { mode: 0, khz: 0, nsec: 0n, incarnation: 0 };

const vcpuKey = (c: { vcpuId: number; kind: VcpuContextKind }): string => `${c.vcpuId}:${c.kind}`;
const emulatorKey = (e: { kind: string; emulatorId: number; index: number }): string => `${e.kind}-${e.emulatorId}-${e.index}`;

export class DomainState {
  desc: DomainDescription | undefined;
  pvInfo: PvInfo | undefined;
  cpuPolicy: CpuPolicyData = {};
  p2mFrames: P2mFrames | undefined;
  tsc: TscInfo | undefined;
  hvmParams: HvmParam[] = [];
  hvmContext: Uint8Array | undefined;
  sharedInfo: Uint8Array | undefined;
  config: string | undefined;
  private readonly vcpus = new Map<string, VcpuContext>();
  private readonly emulator = new Map<string, EmulatorData>();

  /** Everything a DomainSource reports besides memory, as it reports it now. */
  static async of(
    src: Pick<
      DomainSource,
      'describe' | 'getPvInfo' | 'getCpuPolicy' | 'getP2mFrames' | 'getTscInfo' | 'getHvmParams' | 'getHvmContext' | 'getVcpuContexts' | 'getSharedInfo' | 'getEmulatorData' | 'getConfig'
    >,
  ): Promise<DomainState> {
    const s = new DomainState();
    s.desc = { ...src.describe() };
    s.pvInfo = await src.getPvInfo();
    s.cpuPolicy = await src.getCpuPolicy();
    s.p2mFrames = await src.getP2mFrames();
    s.tsc = await src.getTscInfo();
    s.hvmParams = await src.getHvmParams();
    s.hvmContext = await src.getHvmContext();
    for (const v of await src.getVcpuContexts()) s.vcpus.set(vcpuKey(v), v);
    s.sharedInfo = await src.getSharedInfo();
    for (const e of await src.getEmulatorData()) s.emulator.set(emulatorKey(e), e);
    s.config = await src.getConfig();
    return s;
  }

  // ---- set (what a restorer fills) ------------------------------------------------------

  setPvInfo(info: PvInfo): void {
    this.pvInfo = { ...info };
  }

  setCpuPolicy(policy: CpuPolicyData): void {
    this.cpuPolicy = { ...policy };
  }

  setP2mFrames(frames: P2mFrames): void {
    this.p2mFrames = { ...frames, p2mPfns: [...frames.p2mPfns] };
  }

  setTscInfo(tsc: TscInfo): void {
    this.tsc = { ...tsc };
  }

  /** Each param replaces an earlier one of its index, in place; new ones go last. */
  setHvmParams(params: readonly HvmParam[]): void {
    for (const p of params) {
      const at = this.hvmParams.findIndex((q) => q.index === p.index);
      if (at >= 0) this.hvmParams[at] = { ...p };
      else this.hvmParams.push({ ...p });
    }
  }

  setHvmContext(blob: Uint8Array): void {
    this.hvmContext = blob.slice();
  }

  setVcpuContext(ctx: VcpuContext): void {
    this.vcpus.set(vcpuKey(ctx), { ...ctx, data: ctx.data.slice() });
  }

  setSharedInfo(page: Uint8Array): void {
    this.sharedInfo = page.slice();
  }

  setEmulatorData(data: EmulatorData): void {
    this.emulator.set(emulatorKey(data), { ...data, data: data.data.slice() });
  }

  setConfig(config: string): void {
    this.config = config;
  }

  // ---- get (what a saver reads) -----------------------------------------------------------

  get tscInfo(): TscInfo {
    return this.tsc ?? { ...NO_TSC };
  }

  /** By vcpu, then in the order libxc sends a vcpu's records. */
  get vcpuContexts(): VcpuContext[] {
    return [...this.vcpus.values()].sort((a, b) => a.vcpuId - b.vcpuId || VCPU_KINDS.indexOf(a.kind) - VCPU_KINDS.indexOf(b.kind));
  }

  /** Replaces every vcpu context (a domain made with its contexts). */
  set vcpuContexts(list: readonly VcpuContext[]) {
    this.vcpus.clear();
    for (const v of list) this.vcpus.set(vcpuKey(v), v);
  }

  /** In the order first received. */
  get emulatorData(): EmulatorData[] {
    return [...this.emulator.values()];
  }

  set emulatorData(list: readonly EmulatorData[]) {
    this.emulator.clear();
    for (const e of list) this.emulator.set(emulatorKey(e), e);
  }
}
