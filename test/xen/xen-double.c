/*
 * xen-double: a driver that runs Debian's real xc_domain_save() and
 * xc_domain_restore() against the hypervisor double (the fake libxencall and
 * libxenforeignmemory in front of the real ones on LD_LIBRARY_PATH).
 *
 *   xen-double create --hvm --memory MIB [--vcpus N] [--seed S]
 *   xen-double save --out FILE|- [--live] [--debug] [--dirty PAGES_PER_ROUND]
 *   xen-double restore --in FILE|- --hvm --memory MIB [--vcpus N]
 *   xen-double dump --raw FILE [--json]
 *   xen-double set-hvm-context FILE    (tests: replace the domain's blob)
 *
 * Exit 0 on success; otherwise 1 (operation failed) or 2 (usage), with one
 * line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenguest.h>
#include <xentoollog.h>

#include "double.h"

#include <xen/hvm/save.h>
#include <xen/sched.h>

#define SRC_DOMID      1
#define DST_DOMID      2
#define MSR_INTEL_PLATFORM_INFO 0x000000ce
#define MSR_ARCH_CAPABILITIES   0x0000010a

/* libxl/libxc HVM layout (tools/libs/guest/xg_dom_x86.c). */

#ifndef X86_HVM_NR_SPECIAL_PAGES
#define X86_HVM_NR_SPECIAL_PAGES   8
#endif
#define NR_IOREQ_SERVER_PAGES      8
#define special_pfn(x) (X86_HVM_END_SPECIAL_REGION - X86_HVM_NR_SPECIAL_PAGES + (x))
#define ioreq_server_pfn(x) (special_pfn(0) - NR_IOREQ_SERVER_PAGES + (x))
#define SPECIALPAGE_PAGING   0
#define SPECIALPAGE_ACCESS   1
#define SPECIALPAGE_SHARING  2
#define SPECIALPAGE_BUFIOREQ 3
#define SPECIALPAGE_XENSTORE 4
#define SPECIALPAGE_IOREQ    5
#define SPECIALPAGE_IDENT_PT 6
#define SPECIALPAGE_CONSOLE  7
/* LIBXL_MAXMEM_CONSTANT: libxl gives a domain 1 MiB over its target. */
#define MAXMEM_SLACK_PAGES   256

static const char *prog = "xen-double";

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

/* ------------------------------------------------------------ seeding */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void seed_page(struct xd *xd, uint64_t pfn, uint64_t generation)
{
    uint64_t buf[XD_PAGE / 8];
    uint64_t st = xd->s->seed * 0x100000001b3ULL ^ (pfn << 20) ^ (generation << 52);

    for ( unsigned int i = 0; i < XD_PAGE / 8; i++ )
        buf[i] = splitmix(&st);
    if ( pwrite(xd->ramfd, buf, XD_PAGE, (off_t)pfn * XD_PAGE) != XD_PAGE )
        die(1, "writing pfn %#" PRIx64 ": %s", pfn, strerror(errno));
}

static void populate(struct xd *xd, uint64_t pfn)
{
    if ( xd_ram_cover(xd, pfn) )
        die(1, "growing the ram file: %s", strerror(errno));
    if ( !xd_test(xd->s->populated, pfn) )
    {
        xd_set(xd->s->populated, pfn);
        xd->s->tot_pages++;
    }
}

/* -------------------------------------------------------- CPU policy */

static void leaf(struct xd_state *s, uint32_t l, uint32_t sl, uint32_t a,
                 uint32_t b, uint32_t c, uint32_t d)
{
    s->leaves[s->nr_leaves++] = (xen_cpuid_leaf_t){ l, sl, a, b, c, d };
}

/*
 * A plausible Intel (Skylake-server-like) HVM policy, laid out as Xen's
 * x86_cpuid_copy_to_buffer() (xen/lib/x86/cpuid.c) serialises one: basic
 * leaves 0..max_leaf, leaf 4 up to and including the first type-0 subleaf,
 * leaf 7 subleaves 0..max_subleaf, leaf 0xb up to the first type-0 subleaf or
 * the array end, leaf 0xd subleaves 0, 1 and one per xstate bit from 2,
 * then 0x40000000, 0x40000100, then 0x80000000..extd max_leaf.  MSRs as
 * x86_msr_copy_to_buffer(): PLATFORM_INFO, ARCH_CAPABILITIES.
 */
static void build_cpu_policy(struct xd_state *s, unsigned int vcpus)
{
    const uint32_t NS = XEN_CPUID_NO_SUBLEAF;

    s->nr_leaves = 0;
    leaf(s, 0x0, NS, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
    leaf(s, 0x1, NS, 0x00050654, 0x00000800 | (vcpus * 2) << 16,
         0xfffa3203, 0x178bfbff);
    leaf(s, 0x2, NS, 0x00feff01, 0, 0, 0);
    leaf(s, 0x3, NS, 0, 0, 0, 0);
    leaf(s, 0x4, 0, 0x00000121, 0x01c0003f, 0x0000003f, 0);
    leaf(s, 0x4, 1, 0x00000122, 0x01c0003f, 0x0000003f, 0);
    leaf(s, 0x4, 2, 0x00000143, 0x03c0003f, 0x000003ff, 0);
    leaf(s, 0x4, 3, 0x00000163, 0x0280003f, 0x0000bfff, 0x00000004);
    leaf(s, 0x4, 4, 0, 0, 0, 0);
    leaf(s, 0x5, NS, 0, 0, 0, 0);
    leaf(s, 0x6, NS, 0x00000004, 0, 0, 0);
    leaf(s, 0x7, 0, 0, 0xd19f4fbb, 0x0000000c, 0xbc000400);
    leaf(s, 0x8, NS, 0, 0, 0, 0);
    leaf(s, 0x9, NS, 0, 0, 0, 0);
    leaf(s, 0xa, NS, 0, 0, 0, 0);
    leaf(s, 0xb, 0, 1, 2, 0x00000100, 0);
    leaf(s, 0xb, 1, 4, vcpus * 2, 0x00000201, 0);
    leaf(s, 0xc, NS, 0, 0, 0, 0);
    /* xcr0 = x87|SSE|AVX (0x7): subleaves 0, 1, 2. */
    leaf(s, 0xd, 0, 0x00000007, 0x00000340, 0x00000340, 0);
    leaf(s, 0xd, 1, 0x0000000f, 0x00000340, 0, 0);
    leaf(s, 0xd, 2, 0x00000100, 0x00000240, 0, 0);
    leaf(s, 0x40000000, NS, 0, 0, 0, 0);
    leaf(s, 0x40000100, NS, 0, 0, 0, 0);
    leaf(s, 0x80000000, NS, 0x80000008, 0, 0, 0);
    leaf(s, 0x80000001, NS, 0, 0, 0x00000121, 0x2c100800);
    leaf(s, 0x80000002, NS, 0x65746e49, 0x2952286c, 0x6f655820, 0x2952286e);
    leaf(s, 0x80000003, NS, 0x6c6f4720, 0x31362064, 0x43203234, 0x40205550);
    leaf(s, 0x80000004, NS, 0x372e3220, 0x7a484730, 0, 0);
    leaf(s, 0x80000005, NS, 0, 0, 0, 0);
    leaf(s, 0x80000006, NS, 0, 0, 0x04008040, 0);
    leaf(s, 0x80000007, NS, 0, 0, 0, 0x00000100);
    leaf(s, 0x80000008, NS, 0x0000302e, 0x01000000, 0, 0);

    s->nr_msrs = 0;
    s->msrs[s->nr_msrs++] = (xen_msr_entry_t){ MSR_INTEL_PLATFORM_INFO, 0, 0x80000000ULL };
    s->msrs[s->nr_msrs++] = (xen_msr_entry_t){ MSR_ARCH_CAPABILITIES, 0, 0x000000000000002bULL };
}

/* ------------------------------------------------------- HVM context */

struct ctxbuf {
    uint8_t *p;
    uint32_t len;
};

static void rec(struct ctxbuf *b, uint16_t type, uint16_t inst, const void *data,
                uint32_t len)
{
    struct hvm_save_descriptor d = { type, inst, len };

    if ( b->len + sizeof(d) + len > XD_CTX_MAX )
        die(1, "HVM context too big");
    memcpy(b->p + b->len, &d, sizeof(d));
    b->len += sizeof(d);
    if ( len )
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

/*
 * The records hvm_save() (xen/arch/x86/hvm/save.c) emits, in its order:
 * handlers by ascending typecode, per-vcpu ones once per vcpu.
 */
static void build_hvm_context(struct xd_state *s, unsigned int vcpus)
{
    struct ctxbuf b = { s->hvm_ctx, 0 };
    unsigned int v;

    struct hvm_save_header hdr = {
        .magic = HVM_FILE_MAGIC, .version = HVM_FILE_VERSION,
        .changeset = 0, .cpuid = 0x00050654, .gtsc_khz = 2700000,
    };
    rec(&b, 1, 0, &hdr, sizeof(hdr));

    for ( v = 0; v < vcpus; v++ )
    {
        struct hvm_hw_cpu c;
        memset(&c, 0, sizeof(c));
        /* FXSAVE image: FCW 0x37f, MXCSR 0x1f80. */
        c.fpu_regs[0] = 0x7f; c.fpu_regs[1] = 0x03;
        c.fpu_regs[24] = 0x80; c.fpu_regs[25] = 0x1f;
        c.rip = 0xffffffff81000000ULL + 0x1000 * v;
        c.rsp = 0xffffc90000004000ULL + 0x4000 * v;
        c.rflags = 0x246;
        c.cr0 = 0x80050033;             /* PG WP NE ET MP PE */
        c.cr3 = 0x1000000;
        c.cr4 = 0x3606f0;
        c.dr6 = 0xffff0ff0;
        c.dr7 = 0x400;
        c.cs_sel = 0x10; c.ds_sel = c.es_sel = c.ss_sel = 0x18;
        c.tr_sel = 0x40;
        c.cs_limit = c.ds_limit = c.es_limit = c.fs_limit = c.gs_limit =
            c.ss_limit = 0xffffffff;
        c.tr_limit = 0x206f;
        c.idtr_limit = 0xfff; c.gdtr_limit = 0x7f;
        c.gs_base = 0xffff888000000000ULL + 0x10000 * v;
        c.idtr_base = 0xfffffe0000000000ULL;
        c.gdtr_base = 0xfffffe0000001000ULL + 0x10000 * v;
        c.tr_base = 0xfffffe0000003000ULL + 0x10000 * v;
        c.cs_arbytes = 0xa9b;           /* 64-bit code, DPL0, present, G */
        c.ds_arbytes = c.es_arbytes = c.ss_arbytes = 0xc93;
        c.fs_arbytes = c.gs_arbytes = 0xc93;
        c.tr_arbytes = 0x8b;
        c.ldtr_arbytes = 0x10000;       /* unusable */
        c.msr_lstar = 0xffffffff81a00000ULL;
        c.msr_star = 0x0023001000000000ULL;
        c.msr_cstar = 0xffffffff81a01000ULL;
        c.msr_syscall_mask = 0x47700;
        c.msr_efer = 0xd01;             /* SCE LME LMA NXE */
        c.msr_tsc_aux = v;
        c.tsc = 0x123456789ULL;
        c.flags = XEN_X86_FPU_INITIALISED;
        rec(&b, 2, v, &c, sizeof(c));
    }

    for ( v = 0; v < 2; v++ )
    {
        struct hvm_hw_vpic p;
        memset(&p, 0, sizeof(p));
        p.imr = v ? 0xff : 0xb8;
        p.irq_base = v ? 0x28 : 0x20;
        p.is_master = !v;
        p.elcr = v ? 0x0e : 0x20;
        rec(&b, 3, v, &p, sizeof(p));
    }

    {
        struct hvm_hw_vioapic io;
        memset(&io, 0, sizeof(io));
        io.base_address = 0xfec00000;
        for ( unsigned int i = 0; i < VIOAPIC_NUM_PINS; i++ )
            io.redirtbl[i].fields.mask = 1;
        rec(&b, 4, 0, &io, sizeof(io));
    }

    for ( v = 0; v < vcpus; v++ )
    {
        struct hvm_hw_lapic l = {
            .apic_base_msr = 0xfee00800 | (v == 0 ? 0x100 : 0),
            .disabled = 0, .timer_divisor = 1, .tdt_msr = 0,
        };
        rec(&b, 5, v, &l, sizeof(l));
    }
    for ( v = 0; v < vcpus; v++ )
    {
        struct hvm_hw_lapic_regs r;
        memset(&r, 0, sizeof(r));
        *(uint32_t *)&r.data[0x20] = (2 * v) << 24;  /* APIC ID */
        *(uint32_t *)&r.data[0x30] = 0x00050014;     /* version, 6 LVTs */
        *(uint32_t *)&r.data[0xd0] = 1u << (2 * v);  /* LDR */
        *(uint32_t *)&r.data[0xe0] = 0xffffffff;     /* DFR flat */
        *(uint32_t *)&r.data[0xf0] = 0x1ff;          /* SVR enabled */
        for ( unsigned int o = 0x320; o <= 0x370; o += 0x10 )
            *(uint32_t *)&r.data[o] = 0x10000;       /* LVTs masked */
        rec(&b, 6, v, &r, sizeof(r));
    }

    {
        struct hvm_hw_pci_irqs pci; struct hvm_hw_isa_irqs isa;
        struct hvm_hw_pci_link link = { .route = { 5, 10, 11, 5 } };
        memset(&pci, 0, sizeof(pci)); memset(&isa, 0, sizeof(isa));
        rec(&b, 7, 0, &pci, sizeof(pci));
        rec(&b, 8, 0, &isa, sizeof(isa));
        rec(&b, 9, 0, &link, sizeof(link));
    }
    {
        struct hvm_hw_pit pit;
        memset(&pit, 0, sizeof(pit));
        for ( v = 0; v < 3; v++ )
        {
            pit.channels[v].count = 0x10000;
            pit.channels[v].rw_mode = 3;
            pit.channels[v].mode = v == 0 ? 2 : 3;
            pit.channels[v].gate = v != 2;
        }
        rec(&b, 10, 0, &pit, sizeof(pit));
    }
    {
        struct hvm_hw_rtc rtc;
        memset(&rtc, 0, sizeof(rtc));
        rtc.cmos_data[10] = 0x26; rtc.cmos_data[11] = 0x02; rtc.cmos_data[13] = 0x80;
        rec(&b, 11, 0, &rtc, sizeof(rtc));
    }
    {
        struct hvm_hw_hpet h;
        memset(&h, 0, sizeof(h));
        h.capability = 0x8086a201ULL | (10000000ULL << 32); /* 3 timers, 100ns */
        for ( v = 0; v < HPET_TIMER_NUM; v++ )
        {
            h.timers[v].config = 0x30;
            h.timers[v].cmp = ~0ULL;
        }
        rec(&b, 12, 0, &h, sizeof(h));
    }
    {
        struct hvm_hw_pmtimer pm = { .tmr_val = 0x1234, .pm1a_sts = 0, .pm1a_en = 0 };
        rec(&b, 13, 0, &pm, sizeof(pm));
    }
    for ( v = 0; v < vcpus; v++ )
    {
        struct hvm_hw_mtrr m;
        memset(&m, 0, sizeof(m));
        m.msr_pat_cr = 0x0007040600070406ULL;
        m.msr_mtrr_cap = 0x508;          /* 8 variable ranges, fixed, WC */
        m.msr_mtrr_def_type = 0xc06;     /* enabled, fixed enabled, WB */
        for ( unsigned int i = 0; i < NUM_FIXED_MSR; i++ )
            m.msr_mtrr_fixed[i] = 0x0606060606060606ULL;
        rec(&b, 14, v, &m, sizeof(m));
    }

    for ( v = 0; v < vcpus; v++ )
    {
        /* CPU_XSAVE: xcr0 = x87|SSE|AVX, uncompressed, 24 + 576 + 256 octets. */
        uint8_t x[offsetof(struct hvm_hw_cpu_xsave, save_area) + 576 + 256];
        struct hvm_hw_cpu_xsave *xs = (void *)x;

        memset(x, 0, sizeof(x));
        xs->xfeature_mask = 0x7;
        xs->xcr0 = 0x7;
        xs->xcr0_accum = 0x7;
        xs->save_area.fpu_sse.x[0] = 0x7f; xs->save_area.fpu_sse.x[1] = 0x03;
        xs->save_area.fpu_sse.x[24] = 0x80; xs->save_area.fpu_sse.x[25] = 0x1f;
        xs->save_area.xsave_hdr.xstate_bv = 0x7;
        rec(&b, CPU_XSAVE_CODE, v, x, sizeof(x));
    }
    for ( v = 0; v < vcpus; v++ )
    {
        /* VMCE_VCPU: Intel guest MCG_CAP (TES_P | SER_P | CMCI_P | 2 banks). */
        struct hvm_vmce_vcpu m = { .caps = 0x1000c02 };
        rec(&b, 18, v, &m, sizeof(m));
    }
    for ( v = 0; v < vcpus; v++ )
    {
        struct hvm_tsc_adjust t = { .tsc_adjust = 0 };
        rec(&b, 19, v, &t, sizeof(t));
    }
    for ( v = 0; v < vcpus; v++ )
    {
        /* CPU_MSR: the guest runs with SPEC_CTRL.IBRS set. */
        struct { uint32_t count, pad; struct hvm_one_msr msr[1]; } msrs = {
            .count = 1, .msr = { { .index = 0x48, .val = 1 } },
        };
        rec(&b, CPU_MSR_CODE, v, &msrs, sizeof(msrs));
    }

    rec(&b, 0, 0, NULL, 0);   /* END */
    s->hvm_ctx_len = b.len;
}

/* ------------------------------------------------------------ create */

static void set_default_params(struct xd_state *s)
{
    /* What libxl sets for an HVM guest before building or restoring
     * (libxl__arch_domain_create/hvm_set_conf_params): HPET on, timer mode
     * no_delay_for_missed_ticks. */
    s->params[HVM_PARAM_HPET_ENABLED] = 1;
    s->params[HVM_PARAM_TIMER_MODE] = HVMPTM_no_delay_for_missed_ticks;
}

static void new_domain(struct xd *xd, uint32_t domid, unsigned long mem_mib,
                       unsigned int vcpus, uint64_t seed, int pv)
{
    struct xd_state *s;

    if ( xd_open(xd, NULL, 1) )
        die(1, "cannot create the state in $XEN_DOUBLE_DIR: %s", strerror(errno));
    xd_lock(xd);
    s = xd->s;
    s->exists = 1;
    s->domid = domid;
    s->guest_type = pv ? XD_TYPE_PV : XD_TYPE_HVM;
    /* A PV domain starts 64-bit (native width). */
    s->guest_width = 8;
    s->max_vcpus = vcpus;
    s->max_pages = mem_mib * 256 + MAXMEM_SLACK_PAGES;
    s->seed = seed;
    s->tsc_mode = 0;
    s->tsc_khz = 2700000;
    build_cpu_policy(s, vcpus);
    if ( !pv )
        set_default_params(s);
}

static int cmd_create(unsigned long mem, unsigned int vcpus, uint64_t seed)
{
    struct xd xd;
    struct xd_state *s;
    uint64_t pfn;

    new_domain(&xd, SRC_DOMID, mem, vcpus, seed, 0);
    s = xd.s;

    /* RAM from pfn 0, skipping the VGA hole 0xa0-0xbf as xc_dom does. */
    for ( pfn = 0; pfn < mem * 256; pfn++ )
    {
        if ( pfn >= 0xa0 && pfn < 0xc0 )
            continue;
        populate(&xd, pfn);
        seed_page(&xd, pfn, 0);
    }
    /*
     * The special pages (xg_dom_x86.c setup_special_pages()), zeroed as the
     * builder leaves them.  They stay zero here because xc_domain_restore()
     * clears the STORE, CONSOLE, IOREQ and BUFIOREQ pages it finds in
     * HVM_PARAMS (handle_hvm_params()), so seeded contents there could never
     * compare equal after a restore.
     */
    for ( pfn = special_pfn(0); pfn < special_pfn(X86_HVM_NR_SPECIAL_PAGES); pfn++ )
        populate(&xd, pfn);

    s->params[HVM_PARAM_STORE_PFN] = special_pfn(SPECIALPAGE_XENSTORE);
    s->params[HVM_PARAM_BUFIOREQ_PFN] = special_pfn(SPECIALPAGE_BUFIOREQ);
    s->params[HVM_PARAM_IOREQ_PFN] = special_pfn(SPECIALPAGE_IOREQ);
    s->params[HVM_PARAM_CONSOLE_PFN] = special_pfn(SPECIALPAGE_CONSOLE);
    s->params[HVM_PARAM_PAGING_RING_PFN] = special_pfn(SPECIALPAGE_PAGING);
    s->params[HVM_PARAM_MONITOR_RING_PFN] = special_pfn(SPECIALPAGE_ACCESS);
    s->params[HVM_PARAM_SHARING_RING_PFN] = special_pfn(SPECIALPAGE_SHARING);
    s->params[HVM_PARAM_IDENT_PT] = special_pfn(SPECIALPAGE_IDENT_PT) << 12;
    s->params[HVM_PARAM_IOREQ_SERVER_PFN] = ioreq_server_pfn(0);
    s->params[HVM_PARAM_NR_IOREQ_SERVER_PAGES] = NR_IOREQ_SERVER_PAGES;
    s->params[HVM_PARAM_STORE_EVTCHN] = 1;
    s->params[HVM_PARAM_CONSOLE_EVTCHN] = 2;
    /* Set by the guest: hvmloader (ACPI ports, VM86 TSS) and the PV drivers
     * (callback via vector 0xf3). */
    s->params[HVM_PARAM_ACPI_IOPORTS_LOCATION] = 1;
    s->params[HVM_PARAM_VM86_TSS_SIZED] = (128ULL << 32) | 0xfc012000ULL | (1ULL << 63);
    s->params[HVM_PARAM_CALLBACK_IRQ] = (2ULL << 56) | 0xf3;

    build_hvm_context(s, vcpus);
    s->tsc_incarnation = 0;
    s->tsc_nsec = 0;
    s->paused = 0;
    xd_unlock(&xd);
    xd_close(&xd);
    return 0;
}

/* --------------------------------------------------------- create PV */

/*
 * A 64-bit PV guest as Xen hands it to libxc after it suspended: pfn N is
 * machine frame N + XD_MFN_BASE; page tables (L4 pfn 1, L3 2, L2 3, L1s from
 * 4) hold mfns and map all RAM at the kernel's 0xffffffff80000000 (page
 * tables read-only, the rest writable), the L4 pinned (so validated, with
 * Xen's slots filled); the start info page after the L1s, then the xenstore
 * and console pages; at the top of RAM the P2M leaves (mfns), below them
 * the P2M frame list and frame list list, which shared_info's
 * arch.pfn_to_mfn_frame_list_list names (p2m_cr3 = 0: libxc 4.17 walks the
 * tree); vcpu contexts with cr3 the L4's mfn and, on vcpu 0, the start info
 * mfn in rdx (the suspend record); xsave (x87/SSE/AVX) and SPEC_CTRL.
 */
#define PV_KERNEL_VA 0xffffffff80000000ULL
#define PV_L4 1
#define PV_L3 2
#define PV_L2 3
#define PV_L1 4
#define PTE_TABLE 0x27ULL   /* P RW US A */
#define PTE_RO    0x25ULL   /* P US A */
#define PTE_DATA  0x67ULL   /* P RW US A D */

struct pv_layout {
    uint64_t pages, nr_l1, start_info, store, console, p2m0, nr_p2m, fl, fll;
};

static struct pv_layout pv_layout(uint64_t pages)
{
    struct pv_layout l = { .pages = pages };

    l.nr_l1 = (pages + 511) / 512;
    l.start_info = PV_L1 + l.nr_l1;
    l.store = l.start_info + 1;
    l.console = l.start_info + 2;
    l.nr_p2m = (pages * 8 + XD_PAGE - 1) / XD_PAGE;
    l.p2m0 = pages - l.nr_p2m;
    l.fl = l.p2m0 - 1;
    l.fll = l.p2m0 - 2;
    return l;
}

static void put_page(struct xd *xd, uint64_t pfn, const void *buf)
{
    if ( pwrite(xd->ramfd, buf, XD_PAGE, (off_t)pfn * XD_PAGE) != XD_PAGE )
        die(1, "writing pfn %#" PRIx64 ": %s", pfn, strerror(errno));
}

static int pv_is_special(const struct pv_layout *l, uint64_t pfn)
{
    return pfn < PV_L1 + l->nr_l1 + 3 || pfn >= l->fll;
}

static int cmd_create_pv(unsigned long mem, unsigned int vcpus, uint64_t seed)
{
    struct xd xd;
    struct xd_state *s;
    struct pv_layout l = pv_layout(mem * 256);
    uint64_t pfn, t[512];
    int rc;

    new_domain(&xd, SRC_DOMID, mem, vcpus, seed, 1);
    s = xd.s;
    for ( pfn = 0; pfn < l.pages; pfn++ )
    {
        populate(&xd, pfn);
        xd_set_m2p(&xd, pfn + XD_MFN_BASE, pfn);
        seed_page(&xd, pfn, 0);
    }

    memset(t, 0, sizeof(t));
    t[(PV_KERNEL_VA >> 39) & 511] = ((PV_L3 + XD_MFN_BASE) << 12) | PTE_TABLE;
    put_page(&xd, PV_L4, t);
    memset(t, 0, sizeof(t));
    t[(PV_KERNEL_VA >> 30) & 511] = ((PV_L2 + XD_MFN_BASE) << 12) | PTE_TABLE;
    put_page(&xd, PV_L3, t);
    memset(t, 0, sizeof(t));
    for ( uint64_t i = 0; i < l.nr_l1; i++ )
        t[((PV_KERNEL_VA >> 21) & 511) + i] = ((PV_L1 + i + XD_MFN_BASE) << 12) | PTE_TABLE;
    put_page(&xd, PV_L2, t);
    for ( uint64_t i = 0; i < l.nr_l1; i++ )
    {
        memset(t, 0, sizeof(t));
        for ( unsigned int j = 0; j < 512 && i * 512 + j < l.pages; j++ )
        {
            uint64_t p = i * 512 + j;
            int table = p >= PV_L4 && p < PV_L1 + l.nr_l1;
            t[j] = ((p + XD_MFN_BASE) << 12) | (table ? PTE_RO : PTE_DATA);
        }
        put_page(&xd, PV_L1 + i, t);
    }

    /* P2M leaves, frame list, frame list list (all mfns). */
    for ( uint64_t f = 0; f < l.nr_p2m; f++ )
    {
        memset(t, 0xff, sizeof(t));
        for ( unsigned int j = 0; j < 512 && f * 512 + j < l.pages; j++ )
            t[j] = f * 512 + j + XD_MFN_BASE;
        put_page(&xd, l.p2m0 + f, t);
    }
    memset(t, 0, sizeof(t));
    for ( uint64_t f = 0; f < l.nr_p2m; f++ )
        t[f] = l.p2m0 + f + XD_MFN_BASE;
    put_page(&xd, l.fl, t);
    memset(t, 0, sizeof(t));
    t[0] = l.fl + XD_MFN_BASE;
    put_page(&xd, l.fll, t);

    /* The start info page (struct start_info, x86_64), machine frames. */
    {
        uint8_t page[XD_PAGE];
        start_info_t *si = (start_info_t *)page;

        memset(page, 0, sizeof(page));
        snprintf(si->magic, sizeof(si->magic), "xen-3.0-x86_64");
        si->nr_pages = l.pages;
        si->shared_info = XD_SHINFO_MFN << 12;
        /* A suspending guest turns these two into pfns (Linux's
         * xen_pre_suspend()); libxc's process_start_info() expects pfns. */
        si->store_mfn = l.store;
        si->store_evtchn = 1;
        si->console.domU.mfn = l.console;
        si->console.domU.evtchn = 2;
        si->pt_base = PV_KERNEL_VA + ((uint64_t)PV_L4 << 12);
        si->nr_pt_frames = 3 + l.nr_l1;
        si->mfn_list = PV_KERNEL_VA + (l.p2m0 << 12);
        put_page(&xd, l.start_info, page);
    }

    {
        struct shared_info *sh = (struct shared_info *)s->shinfo;

        memset(s->shinfo, 0, sizeof(s->shinfo));
        sh->arch.max_pfn = l.pages;
        sh->arch.pfn_to_mfn_frame_list_list = l.fll + XD_MFN_BASE;
        sh->arch.p2m_cr3 = 0;
        for ( unsigned int v = 0; v < vcpus && v < XEN_LEGACY_MAX_VCPUS; v++ )
            sh->vcpu_info[v].evtchn_upcall_mask = 1;
    }

    /* The guest pinned its L4 (MMUEXT_PIN_L4_TABLE): that validates the
     * tree, as Xen does. */
    rc = xd_pv_pin(&xd, MMUEXT_PIN_L4_TABLE, PV_L4 + XD_MFN_BASE);
    if ( rc )
        die(1, "pinning the L4 failed: %d", rc);

    for ( unsigned int v = 0; v < vcpus; v++ )
    {
        struct vcpu_guest_context c;
        uint8_t evc[128];
        struct xen_domctl_ext_vcpucontext *e = (void *)evc;
        uint8_t xs[16 + 576 + 256];
        xen_domctl_vcpu_msr_t msr = { 0x48, 0, 1 };
        uint32_t one = 1;
        uint64_t stack = PV_KERNEL_VA + 0x800000 - v * 0x4000ULL;

        memset(&c, 0, sizeof(c));
        c.fpu_ctxt.x[0] = 0x7f; c.fpu_ctxt.x[1] = 0x03;
        c.fpu_ctxt.x[24] = 0x80; c.fpu_ctxt.x[25] = 0x1f;
        c.flags = VGCF_i387_valid | VGCF_in_kernel | VGCF_online;
        c.user_regs.rip = PV_KERNEL_VA + 0x1000000 + (seed % 4096) * 16 + v * 0x40;
        c.user_regs.rsp = stack;
        c.user_regs.cs = FLAT_KERNEL_CS;
        c.user_regs.ss = FLAT_KERNEL_SS;
        c.user_regs.rflags = 0x246;
        if ( v == 0 )
            c.user_regs.rdx = l.start_info + XD_MFN_BASE;
        c.kernel_ss = FLAT_KERNEL_SS;
        c.kernel_sp = stack;
        c.ctrlreg[0] = 0x80050033;
        c.ctrlreg[3] = (uint64_t)(PV_L4 + XD_MFN_BASE) << 12;
        c.debugreg[6] = 0xffff0ff0;
        c.debugreg[7] = 0x400;
        c.event_callback_eip = PV_KERNEL_VA + 0x1001000;
        c.failsafe_callback_eip = PV_KERNEL_VA + 0x1002000;
        c.syscall_callback_eip = PV_KERNEL_VA + 0x1003000;
        c.vm_assist = 1ULL << VMASST_TYPE_writable_pagetables;
        c.gs_base_kernel = 0xffff888000000000ULL + v * 0x200000ULL;
        rc = xd_pv_set_vcpu_context(&xd, v, &c);
        if ( rc )
            die(1, "vcpu %u context refused: %d", v, rc);

        memset(evc, 0, sizeof(evc));
        e->vcpu = v;
        e->size = sizeof(*e);
        e->vmce.caps = 0x1000c02;   /* TES_P | SER_P | CMCI_P | 2 banks */
        if ( (rc = xd_pv_set_ext(&xd, evc)) )
            die(1, "vcpu %u extended context refused: %d", v, rc);

        memset(xs, 0, sizeof(xs));
        xs[0] = 7; xs[8] = 7;                       /* xcr0, xcr0_accum */
        xs[16] = 0x7f; xs[17] = 0x03;               /* FCW */
        xs[16 + 24] = 0x80; xs[16 + 25] = 0x1f;     /* MXCSR */
        xs[16 + 512] = 0x7;                         /* xstate_bv */
        for ( unsigned int i = 0; i < 256; i++ )    /* some AVX state */
            xs[16 + 576 + i] = (uint8_t)(seed + v + i);
        if ( (rc = xd_pv_set_xsave(&xd, v, xs, sizeof(xs))) )
            die(1, "vcpu %u xsave refused: %d", v, rc);
        if ( (rc = xd_pv_set_msrs(&xd, v, &msr, &one)) )
            die(1, "vcpu %u MSRs refused: %d", v, rc);
    }
    s->tsc_incarnation = 0;
    s->tsc_nsec = 0;
    s->paused = 0;
    xd_unlock(&xd);
    xd_close(&xd);
    return 0;
}

/* -------------------------------------------------------------- save */

struct save_ctx {
    struct xd xd;
    struct pv_layout layout;
    unsigned long dirty_per_round;
    unsigned int rounds;
    uint64_t cursor;
};

static int cb_suspend(void *data)
{
    struct save_ctx *c = data;

    xd_lock(&c->xd);
    c->xd.s->shutdown = 1;
    c->xd.s->shutdown_reason = SHUTDOWN_suspend;
    /* HVM guests' dirty pages (log-dirty) have been set by guest_dirty. */
    c->xd.s->paused = 1;
    xd_unlock(&c->xd);
    return 1;
}

static int cb_qemu_logdirty(uint32_t domid, unsigned enable, void *data)
{
    (void)domid; (void)enable; (void)data;
    return 0;
}

/* The running guest writes dirty_per_round RAM pages (new seeded contents). */
static void guest_dirty(struct save_ctx *c)
{
    struct xd_state *s = c->xd.s;
    uint64_t limit, n = 0;

    xd_lock(&c->xd);
    s->generation++;
    limit = xd_max_pfn(s) + 1;
    while ( n < c->dirty_per_round )
    {
        uint64_t pfn = c->cursor;

        c->cursor = (c->cursor + 97) % (special_pfn(0));
        if ( pfn >= limit || !xd_test(s->populated, pfn) )
            continue;
        /* A PV guest's workload leaves its page tables, start info and P2M
         * (and the xenstore/console rings) alone. */
        if ( s->guest_type == XD_TYPE_PV &&
             pv_is_special(&c->layout, pfn) )
            continue;
        seed_page(&c->xd, pfn, s->generation);
        if ( s->logdirty && !xd_test(s->dirty, pfn) )
        {
            xd_set(s->dirty, pfn);
            s->dirty_count++;
        }
        n++;
    }
    xd_unlock(&c->xd);
}

/*
 * Precopy policy: full pass, then two more rounds, each preceded by the
 * guest dirtying pages; the last dirtied set goes in the stop-and-copy pass.
 */
#define LIVE_ROUNDS 3
static int cb_precopy(struct precopy_stats stats, void *data)
{
    struct save_ctx *c = data;

    if ( stats.dirty_count == -1 )
    {
        /* A round has just been sent; the guest keeps running. */
        if ( c->dirty_per_round )
            guest_dirty(c);
        return stats.iteration >= LIVE_ROUNDS ? XGS_POLICY_STOP_AND_COPY
                                              : XGS_POLICY_CONTINUE_PRECOPY;
    }
    return XGS_POLICY_CONTINUE_PRECOPY;
}

static int open_out(const char *path)
{
    int fd;

    if ( !strcmp(path, "-") )
        return STDOUT_FILENO;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if ( fd < 0 )
        die(2, "cannot open %s: %s", path, strerror(errno));
    return fd;
}

/*
 * A libxc logger that keeps the first error message (the specific one; the
 * last is a generic "Restore failed") and prints everything only when
 * XEN_DOUBLE_VERBOSE is set, so a failure costs one line on stderr.
 */
struct capture_logger {
    xentoollog_logger vtable;
    int verbose;
    char first[512];
};

static void cap_vmessage(xentoollog_logger *l, xentoollog_level level,
                         int errnoval, const char *context, const char *fmt,
                         va_list al)
{
    struct capture_logger *c = (struct capture_logger *)l;
    char msg[480];

    vsnprintf(msg, sizeof(msg), fmt, al);
    if ( level >= XTL_ERROR && !c->first[0] )
        snprintf(c->first, sizeof(c->first), "%s%s%s", msg,
                 errnoval >= 0 ? ": " : "",
                 errnoval >= 0 ? strerror(errnoval) : "");
    if ( c->verbose || level >= XTL_CRITICAL )
        fprintf(stderr, "%s: %s: %s\n", context ? context : "xc",
                xtl_level_to_string(level), msg);
}

static void cap_progress(xentoollog_logger *l, const char *context,
                         const char *doing, int percent, unsigned long done,
                         unsigned long total)
{
    (void)l; (void)context; (void)doing; (void)percent; (void)done; (void)total;
}

static void cap_destroy(xentoollog_logger *l)
{
    (void)l;
}

static struct capture_logger logger = {
    .vtable = { cap_vmessage, cap_progress, cap_destroy },
};

static xc_interface *xc_open(void)
{
    xc_interface *xch;

    logger.verbose = getenv("XEN_DOUBLE_VERBOSE") != NULL;
    xch = xc_interface_open(&logger.vtable, &logger.vtable, 0);
    if ( !xch )
        die(1, "xc_interface_open failed: %s", logger.first[0] ? logger.first
                                                               : strerror(errno));
    return xch;
}

static const char *xc_failure(void)
{
    return logger.first[0] ? logger.first : strerror(errno);
}

static int cmd_save(const char *out, int live, int debug, unsigned long dirty)
{
    struct save_ctx c = { .dirty_per_round = dirty, .cursor = 0x100 };
    struct save_callbacks cb = {
        .suspend = cb_suspend,
        .switch_qemu_logdirty = cb_qemu_logdirty,
        .precopy_policy = live ? cb_precopy : NULL,
        .data = &c,
    };
    xc_interface *xch;
    uint32_t domid;
    int fd, rc;

    if ( xd_open(&c.xd, NULL, 0) || !c.xd.s->exists )
        die(1, "no domain in $XEN_DOUBLE_DIR");
    domid = c.xd.s->domid;
    c.layout = pv_layout(c.xd.s->max_pages - MAXMEM_SLACK_PAGES);
    fd = open_out(out);
    xch = xc_open();
    rc = xc_domain_save(xch, fd, domid,
                        (live ? XCFLAGS_LIVE : 0) | (debug ? XCFLAGS_DEBUG : 0),
                        &cb, XC_STREAM_PLAIN, -1);
    if ( rc )
        die(1, "xc_domain_save failed: %s", xc_failure());
    if ( fd != STDOUT_FILENO && close(fd) )
        die(1, "closing %s: %s", out, strerror(errno));
    xc_interface_close(xch);
    xd_close(&c.xd);
    return 0;
}

/* ----------------------------------------------------------- restore */

struct restore_ctx {
    unsigned int missing;
    unsigned int checkpoints;
    int sdd_called;
    xen_pfn_t store_gfn, console_gfn;
};

static int cb_static_data_done(unsigned int missing, void *data)
{
    struct restore_ctx *r = data;

    r->missing = missing;
    r->sdd_called = 1;
    return 0;
}

static void cb_restore_results(xen_pfn_t store_gfn, xen_pfn_t console_gfn,
                               void *data)
{
    struct restore_ctx *r = data;

    r->store_gfn = store_gfn;
    r->console_gfn = console_gfn;
}

/*
 * A Remus stream: libxl's checkpoint callback answers "go on" to each CHECKPOINT
 * (XGR_CHECKPOINT_SUCCESS), so libxc applies each checkpoint's buffered records and
 * reads on; what follows the last CHECKPOINT before END is dropped, as on failover.
 */
static int cb_checkpoint(void *data)
{
    struct restore_ctx *r = data;

    r->checkpoints++;
    return XGR_CHECKPOINT_SUCCESS;
}

static int cmd_restore(const char *in, unsigned long mem, unsigned int vcpus,
                       int pv, int checkpointed)
{
    struct restore_ctx r = { 0 };
    struct restore_callbacks cb = {
        .static_data_done = cb_static_data_done,
        .restore_results = cb_restore_results,
        .checkpoint = cb_checkpoint,
        .data = &r,
    };
    struct xd xd;
    xc_interface *xch;
    unsigned long store_mfn = 0, console_mfn = 0;
    int fd, rc;

    fd = strcmp(in, "-") ? open(in, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if ( fd < 0 )
        die(2, "cannot open %s: %s", in, strerror(errno));

    /* An empty domain, as libxl hands one to the restore helper. */
    new_domain(&xd, DST_DOMID, mem, vcpus, 0, pv);
    xd.s->paused = 1;
    xd_unlock(&xd);
    xd_close(&xd);

    xch = xc_open();
    rc = xc_domain_restore(xch, fd, DST_DOMID, 1, &store_mfn, 0, 2,
                           &console_mfn, 0,
                           checkpointed ? XC_STREAM_REMUS : XC_STREAM_PLAIN,
                           &cb, -1);
    if ( rc )
    {
        printf("{\"rc\":%d}\n", rc);
        fflush(stdout);
        die(1, "xc_domain_restore failed: %s", xc_failure());
    }
    if ( !r.store_gfn && !r.console_gfn )
    {
        r.store_gfn = store_mfn;
        r.console_gfn = console_mfn;
    }
    printf("{\"rc\":0,\"missing\":%u,\"staticDataDone\":%s,\"storeGfn\":%lu,\"consoleGfn\":%lu,\"checkpoints\":%u}\n",
           r.missing, r.sdd_called ? "true" : "false",
           (unsigned long)r.store_gfn, (unsigned long)r.console_gfn,
           r.checkpoints);
    xc_interface_close(xch);
    return 0;
}

/* -------------------------------------------------------------- dump */

static int cmd_dump(const char *raw, int json, int bypfn)
{
    struct xd xd;
    struct xd_state *s;
    uint64_t pfn, max, count = 0;
    uint8_t buf[XD_PAGE];
    int fd = -1;

    if ( xd_open(&xd, NULL, 0) || !xd.s->exists )
        die(1, "no domain in $XEN_DOUBLE_DIR");
    s = xd.s;
    xd_lock_shared(&xd);
    max = xd_max_pfn(s);
    if ( raw )
    {
        fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if ( fd < 0 )
            die(2, "cannot open %s: %s", raw, strerror(errno));
    }
    for ( pfn = 0; pfn <= max; pfn++ )
    {
        if ( !xd_test(s->populated, pfn) )
            continue;
        count++;
        if ( fd < 0 )
            continue;
        if ( pread(xd.ramfd, buf, XD_PAGE, (off_t)pfn * XD_PAGE) != XD_PAGE )
            die(1, "reading pfn %#" PRIx64 ": %s", pfn, strerror(errno));
        /* --by-pfn: a PV page table as the stream carries it (pfns, Xen's
         * L4 slots cleared), so pages compare with a pfn-addressed image. */
        if ( bypfn && s->guest_type == XD_TYPE_PV &&
             s->page[pfn].type >= XD_PGT_L1 && s->page[pfn].type <= XD_PGT_L4 )
            xd_pv_normalise(s, s->page[pfn].type, (uint64_t *)buf);
        if ( pwrite(fd, buf, XD_PAGE, (off_t)pfn * XD_PAGE) != XD_PAGE )
            die(1, "copying pfn %#" PRIx64 ": %s", pfn, strerror(errno));
    }
    if ( fd >= 0 )
    {
        if ( ftruncate(fd, count ? (off_t)(max + 1) * XD_PAGE : 0) || close(fd) )
            die(1, "writing %s: %s", raw, strerror(errno));
    }
    if ( json )
    {
        printf("{\"domid\":%u,\"guestType\":\"%s\",\"maxVcpus\":%u,\"maxPages\":%" PRIu64
               ",\"totPages\":%" PRIu64 ",\"populated\":%" PRIu64 ",\"maxPfn\":%" PRIu64
               ",\"shutdown\":%u,\"shutdownReason\":%u,\"paused\":%u,\"hvmParams\":{",
               s->domid, s->guest_type == XD_TYPE_HVM ? "hvm" : "pv", s->max_vcpus,
               s->max_pages, s->tot_pages, count, max, s->shutdown,
               s->shutdown_reason, s->paused);
        for ( unsigned int i = 0, first = 1; i < HVM_NR_PARAMS; i++ )
            if ( s->params[i] )
            {
                printf("%s\"%u\":\"%#" PRIx64 "\"", first ? "" : ",", i, s->params[i]);
                first = 0;
            }
        printf("},\"hvmContextLength\":%u,\"tsc\":{\"mode\":%u,\"khz\":%u,"
               "\"incarnation\":%u,\"nsec\":%" PRIu64 "},\"cpuPolicy\":{\"leaves\":%u,"
               "\"msrs\":%u},\"grantEntries\":[",
               s->hvm_ctx_len, s->tsc_mode, s->tsc_khz, s->tsc_incarnation,
               s->tsc_nsec, s->nr_leaves, s->nr_msrs);
        /* v1 grant entries 0 (console) and 1 (xenstore): flags, domid, frame. */
        for ( unsigned int i = 0; i < 2; i++ )
        {
            const uint8_t *g = s->gnttab + i * 8;
            printf("%s{\"flags\":%u,\"domid\":%u,\"frame\":%u}", i ? "," : "",
                   *(const uint16_t *)g, *(const uint16_t *)(g + 2),
                   *(const uint32_t *)(g + 4));
        }
        /* Runs of populated pfns, so a reader can skip the holes. */
        printf("],\"populatedRanges\":[");
        for ( pfn = 0, count = 0; pfn <= max; pfn++ )
        {
            uint64_t start = pfn;

            if ( !xd_test(s->populated, pfn) )
                continue;
            while ( pfn + 1 <= max && xd_test(s->populated, pfn + 1) )
                pfn++;
            printf("%s[%" PRIu64 ",%" PRIu64 "]", count++ ? "," : "", start,
                   pfn - start + 1);
        }
        printf("]");
        if ( s->guest_type == XD_TYPE_PV )
        {
            /* PV: start info pfn (vcpu 0's rdx, an mfn), page tables by pfn
             * ([pfn, level, pinned]), the shared info's max_pfn and each
             * vcpu's cr3 (an mfn). */
            const struct shared_info *sh = (const void *)s->shinfo;
            uint64_t si = xd_mfn_to_pfn(s, s->pv_vcpu[0].ctx.user_regs.rdx);

            printf(",\"pv\":{\"startInfoPfn\":%" PRId64 ",\"maxPfn\":%lu,"
                   "\"vmAssist\":%" PRIu64 ",\"cr3\":[",
                   si == ~0ULL ? (int64_t)-1 : (int64_t)si,
                   (unsigned long)sh->arch.max_pfn, s->vm_assist);
            for ( unsigned int v = 0; v < s->max_vcpus; v++ )
                printf("%s%" PRIu64, v ? "," : "",
                       (uint64_t)(s->pv_vcpu[v].ctx.ctrlreg[3] >> 12));
            printf("],\"pageTables\":[");
            for ( pfn = 0, count = 0; pfn <= max; pfn++ )
                if ( xd_test(s->populated, pfn) && s->page[pfn].type >= XD_PGT_L1 &&
                     s->page[pfn].type <= XD_PGT_L4 )
                    printf("%s[%" PRIu64 ",%u,%u]", count++ ? "," : "", pfn,
                           s->page[pfn].type, s->page[pfn].pinned);
            printf("]}");
        }
        printf("}\n");
    }
    xd_unlock(&xd);
    xd_close(&xd);
    return 0;
}

/* Tests: replace the domain's HVM context (to save a deliberately odd one). */
static int cmd_set_hvm_context(const char *path)
{
    struct xd xd;
    FILE *f = fopen(path, "rb");
    size_t n;

    if ( !f )
        die(2, "cannot open %s: %s", path, strerror(errno));
    if ( xd_open(&xd, NULL, 0) || !xd.s->exists )
        die(1, "no domain in $XEN_DOUBLE_DIR");
    xd_lock(&xd);
    n = fread(xd.s->hvm_ctx, 1, XD_CTX_MAX, f);
    xd.s->hvm_ctx_len = n;
    xd_unlock(&xd);
    fclose(f);
    xd_close(&xd);
    return 0;
}

static int cmd_get_hvm_context(const char *path)
{
    struct xd xd;
    FILE *f = fopen(path, "wb");

    if ( !f )
        die(2, "cannot open %s: %s", path, strerror(errno));
    if ( xd_open(&xd, NULL, 0) || !xd.s->exists )
        die(1, "no domain in $XEN_DOUBLE_DIR");
    if ( fwrite(xd.s->hvm_ctx, 1, xd.s->hvm_ctx_len, f) != xd.s->hvm_ctx_len ||
         fclose(f) )
        die(1, "writing %s: %s", path, strerror(errno));
    xd_close(&xd);
    return 0;
}

/* -------------------------------------------------------------- main */

static unsigned long num(const char *flag, const char *v)
{
    char *end;
    unsigned long n;

    if ( !v )
        die(2, "%s needs a value", flag);
    errno = 0;
    n = strtoul(v, &end, 0);
    if ( errno || *end || end == v )
        die(2, "%s: not a number: %s", flag, v);
    return n;
}

int main(int argc, char **argv)
{
    const char *cmd, *out = NULL, *in = NULL, *raw = NULL;
    unsigned long mem = 0, vcpus = 1, dirty = 0;
    uint64_t seed = 1;
    int hvm = 0, pv = 0, bypfn = 0, live = 0, debug = 0, json = 0, checkpointed = 0;

    if ( argc < 2 )
        die(2, "usage: xen-double create|save|restore|dump ...");
    cmd = argv[1];
    if ( !strcmp(cmd, "set-hvm-context") || !strcmp(cmd, "get-hvm-context") )
    {
        if ( argc != 3 )
            die(2, "usage: xen-double %s FILE", cmd);
        return cmd[0] == 's' ? cmd_set_hvm_context(argv[2])
                             : cmd_get_hvm_context(argv[2]);
    }
    for ( int i = 2; i < argc; i++ )
    {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if ( !strcmp(a, "--hvm") ) hvm = 1;
        else if ( !strcmp(a, "--pv") ) pv = 1;
        else if ( !strcmp(a, "--by-pfn") ) bypfn = 1;
        else if ( !strcmp(a, "--live") ) live = 1;
        else if ( !strcmp(a, "--debug") ) debug = 1;
        else if ( !strcmp(a, "--json") ) json = 1;
        else if ( !strcmp(a, "--checkpointed") ) checkpointed = 1;
        else if ( !strcmp(a, "--memory") ) { mem = num(a, v); i++; }
        else if ( !strcmp(a, "--vcpus") ) { vcpus = num(a, v); i++; }
        else if ( !strcmp(a, "--seed") ) { seed = num(a, v); i++; }
        else if ( !strcmp(a, "--dirty") ) { dirty = num(a, v); i++; }
        else if ( !strcmp(a, "--out") ) { if ( !v ) die(2, "--out needs a value"); out = v; i++; }
        else if ( !strcmp(a, "--in") ) { if ( !v ) die(2, "--in needs a value"); in = v; i++; }
        else if ( !strcmp(a, "--raw") ) { if ( !v ) die(2, "--raw needs a value"); raw = v; i++; }
        else die(2, "unknown argument: %s", a);
    }
    if ( !getenv("XEN_DOUBLE_DIR") )
        die(2, "XEN_DOUBLE_DIR is not set");
    if ( vcpus < 1 || vcpus > 64 )
        die(2, "--vcpus must be 1..64");

    if ( !strcmp(cmd, "create") )
    {
        if ( hvm == pv ) die(2, "create: one of --hvm or --pv");
        if ( mem < 2 || mem > 3000 ) die(2, "create: --memory MIB must be 2..3000");
        if ( pv && mem > 1000 ) die(2, "create: a PV guest's --memory is at most 1000 MiB");
        return pv ? cmd_create_pv(mem, vcpus, seed) : cmd_create(mem, vcpus, seed);
    }
    if ( !strcmp(cmd, "save") )
    {
        if ( !out ) die(2, "save: --out FILE|- is required");
        if ( dirty && !live ) die(2, "save: --dirty needs --live");
        return cmd_save(out, live, debug, dirty);
    }
    if ( !strcmp(cmd, "restore") )
    {
        if ( !in ) die(2, "restore: --in FILE|- is required");
        if ( hvm == pv ) die(2, "restore: one of --hvm or --pv");
        if ( mem < 2 || mem > 3000 ) die(2, "restore: --memory MIB must be 2..3000");
        return cmd_restore(in, mem, vcpus, pv, checkpointed);
    }
    if ( !strcmp(cmd, "dump") )
        return cmd_dump(raw, json, bypfn);
    die(2, "unknown command: %s", cmd);
}
