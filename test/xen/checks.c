/*
 * xen-double: the checks Xen 4.17 applies to what a toolstack hands it on
 * restore.  Each check names the Xen function (and file) it models.  On
 * rejection one line goes to stderr, worded like the hypervisor's log line,
 * and the Xen errno is returned (negative).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "double.h"

#include <xen/hvm/save.h>
#include <xen/sched.h>

/* ------------------------------------------------------------ hvm_load */

enum len_rule { NONE, STRICT, ZEROEXT, CPU_COMPAT, XSAVE, MSRS };

struct handler {
    const char *name;
    enum len_rule rule;
    uint32_t len;
    int per_vcpu;
    int max_instance;   /* for per-domain records with several instances */
    int err;            /* errno the load handler returns on a length mismatch */
};

/*
 * The handlers Xen 4.17 registers (HVM_REGISTER_SAVE_RESTORE in
 * xen/arch/x86/hvm/{hvm,vpic,vioapic,vlapic,irq,rtc,hpet,pmtimer,mtrr}.c,
 * xen/arch/x86/emul-i8254.c, viridian/viridian.c, cpu/mcheck/vmce.c) and the
 * entry-reading rule each load handler uses: hvm_load_entry() is strict,
 * hvm_load_entry_zeroextend() accepts a shorter record and zero-fills it.
 * HEADER (1) is read by hvm_load() itself and has no handler of its own.
 */
static const struct handler handlers[HVM_SAVE_CODE_MAX + 1] = {
    [2]  = { "CPU",        CPU_COMPAT, sizeof(struct hvm_hw_cpu), 1, 0, EINVAL },
    [3]  = { "PIC",        STRICT, sizeof(struct hvm_hw_vpic), 0, 1, EINVAL },
    [4]  = { "IOAPIC",     STRICT, sizeof(struct hvm_hw_vioapic), 0, 0, ENODATA },
    [5]  = { "LAPIC",      ZEROEXT, sizeof(struct hvm_hw_lapic), 1, 0, EINVAL },
    [6]  = { "LAPIC_REGS", STRICT, sizeof(struct hvm_hw_lapic_regs), 1, 0, EINVAL },
    [7]  = { "PCI_IRQ",    STRICT, sizeof(struct hvm_hw_pci_irqs), 0, 0, EINVAL },
    [8]  = { "ISA_IRQ",    STRICT, sizeof(struct hvm_hw_isa_irqs), 0, 0, EINVAL },
    [9]  = { "PCI_LINK",   STRICT, sizeof(struct hvm_hw_pci_link), 0, 0, EINVAL },
    [10] = { "PIT",        STRICT, sizeof(struct hvm_hw_pit), 0, 0, EINVAL },
    [11] = { "RTC",        ZEROEXT, sizeof(struct hvm_hw_rtc), 0, 0, EINVAL },
    [12] = { "HPET",       STRICT, sizeof(struct hvm_hw_hpet), 0, 0, EINVAL },
    [13] = { "PMTIMER",    STRICT, sizeof(struct hvm_hw_pmtimer), 0, 0, EINVAL },
    [14] = { "MTRR",       STRICT, sizeof(struct hvm_hw_mtrr), 1, 0, EINVAL },
    [15] = { "VIRIDIAN_DOMAIN", ZEROEXT, sizeof(struct hvm_viridian_domain_context), 0, 0, EINVAL },
    [16] = { "CPU_XSAVE",  XSAVE, 0, 1, 0, EINVAL },
    [17] = { "VIRIDIAN_VCPU", ZEROEXT, sizeof(struct hvm_viridian_vcpu_context), 1, 0, EINVAL },
    [18] = { "VMCE_VCPU",  ZEROEXT, sizeof(struct hvm_vmce_vcpu), 1, 0, EINVAL },
    [19] = { "TSC_ADJUST", STRICT, sizeof(struct hvm_tsc_adjust), 1, 0, EINVAL },
    [20] = { "CPU_MSR",    MSRS, 0, 1, 0, EINVAL },
};

static uint32_t policy_leaf(const struct xd_state *s, uint32_t leaf, int reg)
{
    for ( uint32_t i = 0; i < s->nr_leaves; i++ )
        if ( s->leaves[i].leaf == leaf )
            return reg == 0 ? s->leaves[i].a : reg == 3 ? s->leaves[i].d
                                                         : s->leaves[i].c;
    return 0;
}

/*
 * hvm_load_cpu_ctxt() (xen/arch/x86/hvm/hvm.c): the content checks on a
 * CPU record, after a shorter one was zero-extended and fixed up as
 * _hvm_hw_fix_cpu() does.
 */
static int check_cpu(const struct xd_state *s, unsigned int vcpu,
                     const uint8_t *p)
{
    struct hvm_hw_cpu c;
    const unsigned int domid = s->domid;
    /* HVM_CR0_GUEST_RESERVED_BITS: all but PE MP EM TS ET NE WP AM NW CD PG. */
    const uint64_t cr0_ok = 0xe005003fULL;
    /* hvm_cr4_guest_valid_bits() for the double's policy (no VMX/SMX, no
     * LA57, no PKS/CET): VME..OSXMMEXCPT, UMIP, FSGSBASE, PCIDE, OSXSAVE,
     * SMEP, SMAP, PKE. */
    const uint64_t cr4_ok = 0x770fffULL;
    uint32_t e1d = policy_leaf(s, 0x80000001, 3);
    uint32_t maxphys = policy_leaf(s, 0x80000008, 0) & 0xff;
    uint64_t efer_ok = 0;
    const char *why = NULL;

    memcpy(&c, p, sizeof(c));
    if ( c.pad0 != 0 )
    {
        xenlog("HVM%u restore: CPU %u pad0 %#x is not zero", domid, vcpu, c.pad0);
        return -EINVAL;
    }
    if ( (c.cr0 & ~cr0_ok) || !(c.cr0 & 0x10) ||
         ((c.cr0 & 0x80000001ULL) == 0x80000000ULL) )
    {
        xenlog("HVM%u restore: bad CR0 %#lx", domid, (unsigned long)c.cr0);
        return -EINVAL;
    }
    if ( c.cr4 & ~cr4_ok )
    {
        xenlog("HVM%u restore: bad CR4 %#lx", domid, (unsigned long)c.cr4);
        return -EINVAL;
    }
    /* hvm_efer_valid(): only the EFER bits the policy's features allow, and
     * LMA must equal LME && CR0.PG. */
    if ( e1d & (1u << 11) ) efer_ok |= 1ULL << 0;            /* SCE */
    if ( e1d & (1u << 29) ) efer_ok |= (1ULL << 8) | (1ULL << 10); /* LME LMA */
    if ( e1d & (1u << 20) ) efer_ok |= 1ULL << 11;           /* NXE */
    if ( c.msr_efer & ~efer_ok )
        why = "Unknown bits set";
    else if ( !!(c.msr_efer & (1ULL << 10)) !=
              (!!(c.msr_efer & (1ULL << 8)) && !!(c.cr0 & 0x80000000ULL)) )
        why = "LMA/LME/CR0.PG inconsistency";
    if ( why )
    {
        xenlog("d%uv%u: HVM restore: bad EFER %#lx - %s", domid, vcpu,
               (unsigned long)c.msr_efer, why);
        return -EINVAL;
    }
    if ( maxphys && (c.cr3 >> maxphys) )
    {
        xenlog("HVM%u restore: bad CR3 %#lx", domid, (unsigned long)c.cr3);
        return -EINVAL;
    }
    if ( c.flags & ~XEN_X86_FPU_INITIALISED )
    {
        xenlog("d%uv%u bad flags value in CPU context: %#x", domid, vcpu, c.flags);
        return -EINVAL;
    }
    if ( c.msr_tsc_aux != (uint32_t)c.msr_tsc_aux )
    {
        xenlog("d%uv%u: HVM restore: bad MSR_TSC_AUX %#lx", domid, vcpu,
               (unsigned long)c.msr_tsc_aux);
        return -EINVAL;
    }
    return 0;
}

/*
 * The double's host supports x87, SSE and AVX only (xfeature_mask 0x7):
 * uncompressed XSAVE layout, legacy area 512 + header 64, AVX at 576 (256).
 */
#define HOST_XFEATURE_MASK 0x7ULL
#define XSTATE_AREA_MIN_SIZE (512 + 64)
#define XSAVE_OFF offsetof(struct hvm_hw_cpu_xsave, save_area)

static uint32_t xstate_ctxt_size(uint64_t xcr0)
{
    return (xcr0 & 0x4) ? 576 + 256 : 576;
}

/* hvm_load_cpu_xsave_states() (xen/arch/x86/hvm/hvm.c). */
static int check_xsave(unsigned int domid, unsigned int vcpu, const uint8_t *p,
                       uint32_t len, uint32_t left)
{
    struct hvm_hw_cpu_xsave x;
    uint32_t size, i;

    if ( len > left )
    {
        xenlog("HVM%u.%u restore: not enough data left to read %u xsave bytes",
               domid, vcpu, len);
        return -ENODATA;
    }
    if ( len < XSAVE_OFF + XSTATE_AREA_MIN_SIZE )
    {
        xenlog("HVM%u.%u restore mismatch: xsave length %u < %zu", domid, vcpu,
               len, XSAVE_OFF + XSTATE_AREA_MIN_SIZE);
        return -EINVAL;
    }
    memcpy(&x, p, sizeof(x));
    /* validate_xstate() (xen/arch/x86/xstate.c), the parts that do not
     * depend on the host beyond its feature mask. */
    if ( ((x.save_area.xsave_hdr.xstate_bv | x.xcr0) & ~x.xcr0_accum) ||
         !(x.xcr0 & 1) || ((x.xcr0 & 4) && !(x.xcr0 & 2)) )
    {
        xenlog("HVM%u.%u restore: inconsistent xsave state (feat=%#lx accum=%#lx xcr0=%#lx bv=%#lx err=%d)",
               domid, vcpu, (unsigned long)x.xfeature_mask,
               (unsigned long)x.xcr0_accum, (unsigned long)x.xcr0,
               (unsigned long)x.save_area.xsave_hdr.xstate_bv, -EINVAL);
        return -EINVAL;
    }
    if ( x.xcr0_accum & ~HOST_XFEATURE_MASK )
    {
        xenlog("HVM%u.%u restore: inconsistent xsave state (feat=%#lx accum=%#lx xcr0=%#lx bv=%#lx err=%d)",
               domid, vcpu, (unsigned long)x.xfeature_mask,
               (unsigned long)x.xcr0_accum, (unsigned long)x.xcr0,
               (unsigned long)x.save_area.xsave_hdr.xstate_bv, -EOPNOTSUPP);
        return -EOPNOTSUPP;
    }
    size = XSAVE_OFF + xstate_ctxt_size(x.xcr0_accum);
    if ( len > size )
    {
        /* Xen <= 4.3 sent longer regions: extra octets must be zero. */
        for ( i = size; i < len; i++ )
            if ( p[i] )
            {
                xenlog("HVM%u.%u restore mismatch: xsave length %#x > %#x (non-zero data at %#x)",
                       domid, vcpu, len, size, i);
                return -EOPNOTSUPP;
            }
        len = size;
    }
    if ( x.save_area.xsave_hdr.xcomp_bv & (1ULL << 63) )
    {
        xenlog("HVM%u.%u restore: compressed xsave state not supported", domid, vcpu);
        return -EOPNOTSUPP;
    }
    if ( len != size )
    {
        xenlog("HVM%u.%u restore mismatch: xsave length %#x != %#x", domid,
               vcpu, len, size);
        return -EINVAL;
    }
    return 0;
}

/* hvm_load_cpu_msrs() (xen/arch/x86/hvm/hvm.c): only the MSRs
 * hvm_save_cpu_msrs() sends (msrs_to_send[]) are accepted. */
static int check_msrs(unsigned int domid, unsigned int vcpu, const uint8_t *p,
                      uint32_t len, uint32_t left)
{
    static const uint32_t known[] = {
        0x00000048, /* MSR_SPEC_CTRL */
        0x00000140, /* MSR_INTEL_MISC_FEATURES_ENABLES */
        0x00000d90, /* MSR_IA32_BNDCFGS */
        0x00000da0, /* MSR_IA32_XSS */
        0xc001011f, /* MSR_VIRT_SPEC_CTRL */
        0xc0011027, /* MSR_AMD64_DR0_ADDRESS_MASK */
        0xc0011019, 0xc001101a, 0xc001101b, /* DR1..DR3_ADDRESS_MASK */
    };
    uint32_t count, i, j;
    const uint32_t one = sizeof(struct hvm_one_msr);

    if ( len > left )
    {
        xenlog("HVM%u.%u restore: not enough data left to read %u MSR bytes",
               domid, vcpu, len);
        return -ENODATA;
    }
    if ( len < 8 + one )
    {
        xenlog("HVM%u.%u restore mismatch: MSR length %u < %u", domid, vcpu,
               len, 8 + one);
        return -EINVAL;
    }
    memcpy(&count, p, sizeof(count));
    if ( len != 8 + (uint64_t)one * count )
    {
        xenlog("HVM%u.%u restore mismatch: MSR length %u != %lu", domid, vcpu,
               len, 8 + (unsigned long)one * count);
        return -EOPNOTSUPP;
    }
    for ( i = 0; i < count; i++ )
    {
        struct hvm_one_msr m;

        memcpy(&m, p + 8 + one * i, sizeof(m));
        if ( m._rsvd )
            return -EOPNOTSUPP;
        for ( j = 0; j < sizeof(known) / sizeof(known[0]); j++ )
            if ( m.index == known[j] )
                break;
        if ( j == sizeof(known) / sizeof(known[0]) )
        {
            xenlog("HVM%u.%u restore: MSR %#x is not one Xen restores", domid,
                   vcpu, m.index);
            return -ENXIO;
        }
    }
    return 0;
}

int xd_check_hvm_context(const struct xd_state *s, const uint8_t *buf,
                         uint32_t size)
{
    const unsigned int domid = s->domid;
    uint32_t cur = 0;
    struct hvm_save_descriptor d;
    struct hvm_save_header hdr;

    /*
     * hvm_load() (xen/arch/x86/hvm/save.c): the HEADER must come first and
     * is read with hvm_load_entry(), i.e. strictly (_hvm_check_entry()).
     */
    if ( size < sizeof(d) )
    {
        xenlog("HVM restore: not enough data left to read %zu bytes for type %u header",
               sizeof(d), 1);
        return -ENODATA;
    }
    memcpy(&d, buf, sizeof(d));
    if ( d.typecode != 1 || d.length != sizeof(hdr) ||
         d.length > size - sizeof(d) )
    {
        xenlog("HVM restore mismatch: expected strict type 1 length %zu, saw type %u length %u.  %zu bytes remaining",
               sizeof(hdr), d.typecode, d.length, (size_t)size - sizeof(d));
        return -ENODATA;
    }
    memcpy(&hdr, buf + sizeof(d), sizeof(hdr));
    cur = sizeof(d) + sizeof(hdr);

    /* arch_hvm_load() (xen/arch/x86/hvm/save.c): magic and version. */
    if ( hdr.magic != HVM_FILE_MAGIC )
    {
        xenlog("HVM%u restore: bad magic number %#x", domid, hdr.magic);
        return -EINVAL;
    }
    if ( hdr.version != HVM_FILE_VERSION )
    {
        xenlog("HVM%u restore: unsupported version %u", domid, hdr.version);
        return -EINVAL;
    }

    for ( ; ; )
    {
        const struct handler *hd;
        uint32_t left;

        /* hvm_load(): a descriptor must follow, and a null one ends it. */
        if ( size - cur < sizeof(d) )
        {
            xenlog("HVM%u restore: save did not end with a null entry", domid);
            return -ENODATA;
        }
        memcpy(&d, buf + cur, sizeof(d));
        if ( d.typecode == 0 )
            return 0;

        /* hvm_load(): every typecode needs a registered load handler. */
        if ( d.typecode > HVM_SAVE_CODE_MAX ||
             !(hd = &handlers[d.typecode])->name )
        {
            xenlog("HVM%u restore: unknown entry typecode %u", domid, d.typecode);
            return -EINVAL;
        }

        /*
         * Per-vcpu load handlers (hvm_load_cpu_ctxt(), lapic_load_hidden(),
         * lapic_load_regs(), hvm_load_mtrr_msr(), ...) refuse an instance
         * naming a vcpu the domain does not have; vpic_load() refuses a
         * PIC instance above 1.
         */
        if ( hd->per_vcpu && d.instance >= s->max_vcpus )
        {
            xenlog("HVM restore: dom%u has no vcpu%u", domid, d.instance);
            return -EINVAL;
        }
        if ( !hd->per_vcpu && d.instance > hd->max_instance )
        {
            xenlog("HVM%u restore: failed to load entry %u/%u rc %d", domid,
                   d.typecode, d.instance, d.typecode == 3 ? -ENOENT : -EINVAL);
            return d.typecode == 3 ? -ENOENT : -EINVAL;
        }

        left = size - cur - sizeof(d);
        /* _hvm_check_entry(): strict wants the exact length, zero-extend
         * accepts anything up to it; neither may run past the buffer. */
        switch ( hd->rule )
        {
        case STRICT:
            if ( d.length != hd->len || d.length > left )
            {
                xenlog("HVM restore mismatch: expected strict %s type %u length %u, saw type %u length %u.  %u bytes remaining",
                       hd->name, d.typecode, hd->len, d.typecode, d.length, left);
                return -hd->err;
            }
            break;
        case ZEROEXT:
            if ( d.length > hd->len || d.length > left )
            {
                xenlog("HVM restore mismatch: expected zeroextended %s type %u length %u, saw type %u length %u.  %u bytes remaining",
                       hd->name, d.typecode, hd->len, d.typecode, d.length, left);
                return -hd->err;
            }
            break;
        case CPU_COMPAT:
        {
            /*
             * hvm_load_cpu_ctxt() (xen/arch/x86/hvm/hvm.c) reads with
             * hvm_load_entry_zeroextend(CPU, ...): _hvm_check_entry() (save.c)
             * takes any length up to sizeof(struct hvm_hw_cpu) and
             * _hvm_read_entry() zero-fills the rest; a longer record is tried
             * again as the compat form (1016, also zero-extending), which fails
             * too.  _hvm_hw_fix_cpu() (public/arch-x86/hvm/save.h) then moves
             * the tail of a 1016-octet compat record into place and, for any
             * length but the full one, forces flags to XEN_X86_FPU_INITIALISED.
             * So a shorter record (1024 octets, say) loads, zero-extended.
             */
            union { struct hvm_hw_cpu nat; struct hvm_hw_cpu_compat cmp; uint8_t raw[sizeof(struct hvm_hw_cpu)]; } u;
            if ( d.length > left || d.length > hd->len )
            {
                xenlog("HVM restore mismatch: expected zeroextended type %u length %zu, saw type %u length %u.  %u bytes remaining",
                       d.typecode, sizeof(struct hvm_hw_cpu_compat), d.typecode, d.length, left);
                return -EINVAL;
            }
            memset(&u, 0, sizeof(u));
            memcpy(u.raw, buf + cur + sizeof(d), d.length);
            if ( d.length != hd->len )
            {
                if ( d.length == sizeof(struct hvm_hw_cpu_compat) )
                {
                    u.nat.error_code = u.cmp.error_code;
                    u.nat.pending_event = u.cmp.pending_event;
                    u.nat.tsc = u.cmp.tsc;
                    u.nat.msr_tsc_aux = 0;
                }
                u.nat.flags = XEN_X86_FPU_INITIALISED;
            }
            {
                int rc = check_cpu(s, d.instance, u.raw);
                if ( rc )
                    return rc;
            }
            break;
        }
        case XSAVE:
        {
            int rc = check_xsave(domid, d.instance, buf + cur + sizeof(d),
                                 d.length, left);
            if ( rc )
                return rc;
            break;
        }
        case MSRS:
        {
            int rc = check_msrs(domid, d.instance, buf + cur + sizeof(d),
                                d.length, left);
            if ( rc )
                return rc;
            break;
        }
        case NONE:
            break;
        }
        cur += sizeof(d) + d.length;
    }
}

/* ------------------------------------------------------ HVM parameters */

int xd_set_param(struct xd_state *s, uint32_t index, uint64_t value)
{
    uint64_t old;

    /* hvmop_set_param() (xen/arch/x86/hvm/hvm.c). */
    if ( index >= HVM_NR_PARAMS )
    {
        xenlog("d%u: HVMOP_set_param: index %u >= HVM_NR_PARAMS (%u)", s->domid,
               index, HVM_NR_PARAMS);
        return -EINVAL;
    }

    /* hvm_allow_set_param() (xen/arch/x86/hvm/hvm.c): deprecated params. */
    switch ( index )
    {
    case HVM_PARAM_PAE_ENABLED:
    case HVM_PARAM_DM_DOMAIN:
    case HVM_PARAM_MEMORY_EVENT_CR0:
    case HVM_PARAM_MEMORY_EVENT_CR3:
    case HVM_PARAM_MEMORY_EVENT_CR4:
    case HVM_PARAM_MEMORY_EVENT_INT3:
    case HVM_PARAM_NESTEDHVM:
    case HVM_PARAM_MEMORY_EVENT_SINGLE_STEP:
    case HVM_PARAM_BUFIOREQ_EVTCHN:
    case HVM_PARAM_MEMORY_EVENT_MSR:
        xenlog("d%u: hvm_allow_set_param: param %u is deprecated", s->domid, index);
        return -EINVAL;
    }
    /* (The EPERM rule there applies to a guest setting its own params; the
     * toolstack domain is never the target, so it cannot trigger here.) */

    /* hvm_allow_set_param(): these may only be set once. */
    old = s->params[index];
    switch ( index )
    {
    case HVM_PARAM_VIRIDIAN:
    case HVM_PARAM_IOREQ_PFN:
    case HVM_PARAM_BUFIOREQ_PFN:
    case HVM_PARAM_IOREQ_SERVER_PFN:
    case HVM_PARAM_NR_IOREQ_SERVER_PAGES:
    case HVM_PARAM_ALTP2M:
    case HVM_PARAM_MCA_CAP:
        if ( old != 0 && value != old )
        {
            xenlog("d%u: hvm_allow_set_param: param %u already %#lx, refusing %#lx",
                   s->domid, index, (unsigned long)old, (unsigned long)value);
            return -EEXIST;
        }
    }

    /* hvm_set_param() (xen/arch/x86/hvm/hvm.c): per-parameter value rules. */
    switch ( index )
    {
    case HVM_PARAM_TIMER_MODE:
        if ( value > HVMPTM_one_missed_tick_pending )
            goto bad;
        break;
    case HVM_PARAM_VIRIDIAN:
        if ( (value & ~HVMPV_feature_mask) || !(value & HVMPV_base_freq) )
            goto bad;
        break;
    case HVM_PARAM_ACPI_S_STATE:
        if ( value != 0 && value != 3 )
            goto bad;
        break;
    case HVM_PARAM_ACPI_IOPORTS_LOCATION:
        /* pmtimer_change_ioport() (xen/arch/x86/hvm/pmtimer.c): only 0 <-> 1. */
        if ( value != old && (value ^ old) != 1 )
            goto bad;
        break;
    case HVM_PARAM_ALTP2M:
        if ( value > XEN_ALTP2M_limited )
            goto bad;
        break;
    case HVM_PARAM_TRIPLE_FAULT_REASON:
        if ( value > SHUTDOWN_MAX )
            goto bad;
        break;
    case HVM_PARAM_NR_IOREQ_SERVER_PAGES:
        /* ioreq_gfn.mask is an unsigned long: at most 64 pages. */
        if ( value == 0 || value > 64 )
            goto bad;
        break;
    case HVM_PARAM_X87_FIP_WIDTH:
        if ( value != 0 && value != 4 && value != 8 )
            goto bad;
        break;
    case HVM_PARAM_VM86_TSS:
        /* Stored as VM86_TSS_SIZED with the 128-octet size old hvmloaders use. */
        if ( value != (uint32_t)value )
            goto bad;
        if ( value )
            value |= (128ULL << 32) | (1ULL << 63);
        index = HVM_PARAM_VM86_TSS_SIZED;
        break;
    case HVM_PARAM_VM86_TSS_SIZED:
        /* Size at least sizeof(struct tss32) (104), capped at the useful
         * maximum; stored with VM86_TSS_UPDATED (bit 63). */
        if ( (value >> 32) < 104 )
            goto bad;
        if ( (value >> 32) > 104 + 0x100 / 8 + 0x10000 / 8 + 1 )
            value = (uint32_t)value |
                    ((uint64_t)(104 + 0x100 / 8 + 0x10000 / 8 + 1) << 32);
        value |= 1ULL << 63;
        break;
    case HVM_PARAM_MCA_CAP:
        /* vmce_enable_mca_cap() (xen/arch/x86/cpu/mcheck/vmce.c). */
        if ( value & ~XEN_HVM_MCA_CAP_MASK )
            goto bad;
        break;
    }
    s->params[index] = value;
    return 0;

 bad:
    xenlog("d%u: hvm_set_param: invalid value %#lx for param %u", s->domid,
           (unsigned long)value, index);
    return -EINVAL;
}

int xd_get_param(const struct xd_state *s, uint32_t index, uint64_t *value)
{
    /* hvm_allow_get_param(): deprecated params read as EINVAL. */
    switch ( index )
    {
    case HVM_PARAM_PAE_ENABLED:
    case HVM_PARAM_DM_DOMAIN:
    case HVM_PARAM_MEMORY_EVENT_CR0:
    case HVM_PARAM_MEMORY_EVENT_CR3:
    case HVM_PARAM_MEMORY_EVENT_CR4:
    case HVM_PARAM_MEMORY_EVENT_INT3:
    case HVM_PARAM_NESTEDHVM:
    case HVM_PARAM_MEMORY_EVENT_SINGLE_STEP:
    case HVM_PARAM_BUFIOREQ_EVTCHN:
    case HVM_PARAM_MEMORY_EVENT_MSR:
        return -EINVAL;
    }
    /* hvm_get_param(). */
    switch ( index )
    {
    case HVM_PARAM_VM86_TSS:
        *value = (uint32_t)s->params[HVM_PARAM_VM86_TSS_SIZED];
        break;
    case HVM_PARAM_VM86_TSS_SIZED:
        *value = s->params[index] & ~(1ULL << 63);
        break;
    default:
        *value = s->params[index];
        break;
    }
    return 0;
}

/* ----------------------------------------------------------- CPU policy */

#define MSR_INTEL_PLATFORM_INFO 0x000000ce
#define MSR_ARCH_CAPABILITIES   0x0000010a

/* The double's "host": what its hvm_max policy allows (see the policy the
 * driver builds in xen-double.c). */
#define HOST_MAX_BASIC   0xdu
#define HOST_MAX_FEAT    0u
#define HOST_MAX_EXTD    0x80000008u

int xd_check_cpu_policy(const xen_cpuid_leaf_t *leaves, uint32_t nr_leaves,
                        const xen_msr_entry_t *msrs, uint32_t nr_msrs,
                        uint32_t *err_leaf, uint32_t *err_subleaf,
                        uint32_t *err_msr)
{
    uint32_t max_basic = 0, max_feat = 0, max_extd = 0;
    int seen0 = 0, seen7 = 0, seen_e = 0;
    uint32_t i;

    *err_leaf = *err_subleaf = *err_msr = ~0u;

    /* x86_cpuid_copy_from_buffer() (xen/lib/x86/cpuid.c). */
    if ( nr_leaves > XD_MAX_SERIALISED_LEAVES )
    {
        xenlog("set_cpu_policy: %u leaves > CPUID_MAX_SERIALISED_LEAVES (%u)",
               nr_leaves, XD_MAX_SERIALISED_LEAVES);
        return -E2BIG;
    }
    for ( i = 0; i < nr_leaves; i++ )
    {
        const xen_cpuid_leaf_t *l = &leaves[i];
        int ok;

        if ( l->leaf < XD_NR_BASIC )
        {
            switch ( l->leaf )
            {
            case 0x4: ok = l->subleaf < XD_NR_CACHE; break;
            case 0x7: ok = l->subleaf < XD_NR_FEAT; break;
            case 0xb: ok = l->subleaf < XD_NR_TOPO; break;
            case 0xd: ok = l->subleaf < XD_NR_XSTATE; break;
            default:  ok = l->subleaf == XEN_CPUID_NO_SUBLEAF; break;
            }
        }
        else if ( l->leaf == 0x40000000 || l->leaf == 0x40000100 )
            ok = l->subleaf == XEN_CPUID_NO_SUBLEAF;
        else if ( l->leaf >= 0x80000000 && l->leaf < 0x80000000 + XD_NR_EXTD )
            ok = l->subleaf == XEN_CPUID_NO_SUBLEAF;
        else
            ok = 0;
        if ( !ok )
        {
            *err_leaf = l->leaf;
            *err_subleaf = l->subleaf;
            xenlog("set_cpu_policy: leaf %#010x subleaf %#010x out of range",
                   l->leaf, l->subleaf);
            return -ERANGE;
        }
        if ( l->leaf == 0 ) { seen0 = 1; max_basic = l->a; }
        if ( l->leaf == 7 && l->subleaf == 0 ) { seen7 = 1; max_feat = l->a; }
        if ( l->leaf == 0x80000000 ) { seen_e = 1; max_extd = l->a; }
    }

    /* x86_msr_copy_from_buffer() (xen/lib/x86/msr.c). */
    if ( nr_msrs > XD_MAX_SERIALISED_MSRS )
    {
        xenlog("set_cpu_policy: %u MSRs > MSR_MAX_SERIALISED_ENTRIES (%u)",
               nr_msrs, XD_MAX_SERIALISED_MSRS);
        return -E2BIG;
    }
    for ( i = 0; i < nr_msrs; i++ )
    {
        const xen_msr_entry_t *m = &msrs[i];
        int rc = 0;

        if ( m->flags )
            rc = -EINVAL;                       /* .flags MBZ */
        else if ( m->idx == MSR_INTEL_PLATFORM_INFO )
            rc = (uint32_t)m->val != m->val ? -EOVERFLOW : 0;
        else if ( m->idx != MSR_ARCH_CAPABILITIES )
            rc = -ERANGE;
        if ( rc )
        {
            *err_msr = m->idx;
            xenlog("set_cpu_policy: MSR %#010x refused (rc %d)", m->idx, rc);
            return rc;
        }
        /* x86_cpu_policies_are_compatible(): platform_info within host's. */
        if ( m->idx == MSR_INTEL_PLATFORM_INFO && (m->val & ~0x80000000ULL) )
        {
            *err_msr = m->idx;
            xenlog("set_cpu_policy: MSR_INTEL_PLATFORM_INFO %#lx exceeds the host",
                   (unsigned long)m->val);
            return -EINVAL;
        }
    }

    /*
     * x86_cpu_policies_are_compatible() (xen/lib/x86/policy.c), called from
     * update_domain_cpu_policy() (xen/arch/x86/domctl.c): max leaves may not
     * exceed the host's.
     */
    if ( seen0 && max_basic > HOST_MAX_BASIC )
    {
        *err_leaf = 0; *err_subleaf = XEN_CPUID_NO_SUBLEAF;
        xenlog("set_cpu_policy: basic max_leaf %#x > host %#x", max_basic, HOST_MAX_BASIC);
        return -EINVAL;
    }
    if ( seen7 && max_feat > HOST_MAX_FEAT )
    {
        *err_leaf = 7; *err_subleaf = 0;
        xenlog("set_cpu_policy: leaf 7 max_subleaf %u > host %u", max_feat, HOST_MAX_FEAT);
        return -EINVAL;
    }
    if ( seen_e && max_extd > HOST_MAX_EXTD )
    {
        *err_leaf = 0x80000000; *err_subleaf = XEN_CPUID_NO_SUBLEAF;
        xenlog("set_cpu_policy: extd max_leaf %#x > host %#x", max_extd, HOST_MAX_EXTD);
        return -EINVAL;
    }
    return 0;
}
