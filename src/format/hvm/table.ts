/**
 * Every HVM save record type of Xen's public/arch-x86/hvm/save.h (HVM_SAVE_CODE_MAX 20 in
 * 4.17 and staging; typecodes 22-34 are reserved for Amazon and never loaded). The
 * table is keyed by name and typed so that leaving a type out fails to compile.
 */
import { hvmCpu } from './cpu.js';
import { hvmCpuMsr } from './cpu-msr.js';
import { hvmCpuXsave } from './cpu-xsave.js';
import { hvmHeader } from './header.js';
import { hvmHpet } from './hpet.js';
import { hvmIoapic } from './ioapic.js';
import { hvmIsaIrq } from './isa-irq.js';
import { hvmLapic } from './lapic.js';
import { hvmLapicRegs } from './lapic-regs.js';
import { hvmMtrr } from './mtrr.js';
import { hvmPciIrq } from './pci-irq.js';
import { hvmPciLink } from './pci-link.js';
import { hvmPic } from './pic.js';
import { hvmPit } from './pit.js';
import { hvmPmtimer } from './pmtimer.js';
import { hvmRtc } from './rtc.js';
import type { HvmSaveRecordModule } from './save-record.js';
import { hvmTscAdjust } from './tsc-adjust.js';
import { hvmViridianDomain } from './viridian-domain.js';
import { hvmViridianVcpu } from './viridian-vcpu.js';
import { hvmVmceVcpu } from './vmce-vcpu.js';

/** The save record types, by typecode. */
export const HVM_SAVE_TYPE_NAMES = {
  1: 'HEADER',
  2: 'CPU',
  3: 'PIC',
  4: 'IOAPIC',
  5: 'LAPIC',
  6: 'LAPIC_REGS',
  7: 'PCI_IRQ',
  8: 'ISA_IRQ',
  9: 'PCI_LINK',
  10: 'PIT',
  11: 'RTC',
  12: 'HPET',
  13: 'PMTIMER',
  14: 'MTRR',
  15: 'VIRIDIAN_DOMAIN',
  16: 'CPU_XSAVE',
  17: 'VIRIDIAN_VCPU',
  18: 'VMCE_VCPU',
  19: 'TSC_ADJUST',
  20: 'CPU_MSR',
} as const;

export type HvmSaveTypeName = (typeof HVM_SAVE_TYPE_NAMES)[keyof typeof HVM_SAVE_TYPE_NAMES];
type TypecodeOf<N extends HvmSaveTypeName> = { [C in keyof typeof HVM_SAVE_TYPE_NAMES]: (typeof HVM_SAVE_TYPE_NAMES)[C] extends N ? C : never }[keyof typeof HVM_SAVE_TYPE_NAMES];

/** One module per type; a missing or misnamed entry is a compile error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const HVM_SAVE_RECORDS: { readonly [N in HvmSaveTypeName]: HvmSaveRecordModule<N, any> & { typecode: TypecodeOf<N> } } = {
  HEADER: hvmHeader as typeof hvmHeader & { typecode: 1 },
  CPU: hvmCpu as typeof hvmCpu & { typecode: 2 },
  PIC: hvmPic as typeof hvmPic & { typecode: 3 },
  IOAPIC: hvmIoapic as typeof hvmIoapic & { typecode: 4 },
  LAPIC: hvmLapic as typeof hvmLapic & { typecode: 5 },
  LAPIC_REGS: hvmLapicRegs as typeof hvmLapicRegs & { typecode: 6 },
  PCI_IRQ: hvmPciIrq as typeof hvmPciIrq & { typecode: 7 },
  ISA_IRQ: hvmIsaIrq as typeof hvmIsaIrq & { typecode: 8 },
  PCI_LINK: hvmPciLink as typeof hvmPciLink & { typecode: 9 },
  PIT: hvmPit as typeof hvmPit & { typecode: 10 },
  RTC: hvmRtc as typeof hvmRtc & { typecode: 11 },
  HPET: hvmHpet as typeof hvmHpet & { typecode: 12 },
  PMTIMER: hvmPmtimer as typeof hvmPmtimer & { typecode: 13 },
  MTRR: hvmMtrr as typeof hvmMtrr & { typecode: 14 },
  VIRIDIAN_DOMAIN: hvmViridianDomain as typeof hvmViridianDomain & { typecode: 15 },
  CPU_XSAVE: hvmCpuXsave as typeof hvmCpuXsave & { typecode: 16 },
  VIRIDIAN_VCPU: hvmViridianVcpu as typeof hvmViridianVcpu & { typecode: 17 },
  VMCE_VCPU: hvmVmceVcpu as typeof hvmVmceVcpu & { typecode: 18 },
  TSC_ADJUST: hvmTscAdjust as typeof hvmTscAdjust & { typecode: 19 },
  CPU_MSR: hvmCpuMsr as typeof hvmCpuMsr & { typecode: 20 },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const HVM_SAVE_RECORD_BY_CODE: ReadonlyMap<number, HvmSaveRecordModule<HvmSaveTypeName, any>> = new Map(
  Object.values(HVM_SAVE_RECORDS).map((m) => [m.typecode, m]),
);

/** A module's typecode agrees with its table entry (checked once at load). */
for (const [code, name] of Object.entries(HVM_SAVE_TYPE_NAMES)) {
  if (HVM_SAVE_RECORDS[name].typecode !== Number(code)) throw new Error(`HVM save record ${name}: typecode ${HVM_SAVE_RECORDS[name].typecode}, table says ${code}`);
}

/** The name of a typecode, or `type N` for one Xen does not define. */
export function hvmSaveTypeName(typecode: number): string {
  return HVM_SAVE_RECORD_BY_CODE.get(typecode)?.name ?? (typecode === 0 ? 'END' : `type ${typecode}`);
}
