/*
 * xen-double: what Xen 4.17 does and refuses for a 64-bit PV domain --
 * page-table validation (types, pinning), arch_set_info_guest, the extended
 * vcpu context, PV xsave and PV vcpu MSRs.  Each check names the Xen
 * function (and file) it models.  Frames are machine frames (mfn = pfn +
 * XD_MFN_BASE); page contents live in the ram file at pfn * 4096.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "double.h"

#include <xen/domctl.h>

#define PTE_P      0x001ULL
#define PTE_RW     0x002ULL
#define PTE_FRAME  0x000ffffffffff000ULL
/*
 * arch_init_memory() (xen/arch/x86/mm.c): base_disallow_mask is everything
 * but PRESENT, RW, USER, ACCESSED, DIRTY, AVAIL (0xe00), AVAIL_HIGH and NX
 * (bits 52-63 are all allowed).  L1_DISALLOW_MASK also allows GLOBAL; a PV
 * domain without I/O capabilities gets no cache attributes (l1_disallow_mask).
 */
#define L1_ALLOWED 0xf67ULL
#define LN_ALLOWED 0xe67ULL
/* HYPERVISOR_VIRT_START/END for x86_64 (0xffff800000000000, 0xffff880000000000). */
#define ROOT_FIRST_XEN_SLOT 256
#define ROOT_LAST_XEN_SLOT  271
#define XEN_VIRT_END_64     0xffff880000000000ULL
#define PAGE_HYPERVISOR_RW  0x063ULL
#define HOST_CR0            0x80050033ULL   /* PG WP NE ET MP PE */
#define X86_CR0_TS          0x8ULL
#define HOST_XFEATURE_MASK  0x7ULL          /* x87 SSE AVX (checks.c) */

static const char *const level_name[] = { "", "L1", "L2", "L3", "L4" };

static void read_page(struct xd *xd, uint64_t pfn, uint64_t *t)
{
    if ( pread(xd->ramfd, t, XD_PAGE, (off_t)pfn * XD_PAGE) != (ssize_t)XD_PAGE )
        memset(t, 0, XD_PAGE);
}

static void write_page(struct xd *xd, uint64_t pfn, const uint64_t *t)
{
    if ( pwrite(xd->ramfd, t, XD_PAGE, (off_t)pfn * XD_PAGE) != (ssize_t)XD_PAGE )
        xenlog("xen-double: cannot write pfn %#lx", (unsigned long)pfn);
}

static int is_guest_l4_slot(unsigned int i)
{
    /* is_guest_l4_slot() (xen/arch/x86/include/asm/config.h) for a 64-bit PV
     * guest: every slot but Xen's 256-271. */
    return i < ROOT_FIRST_XEN_SLOT || i > ROOT_LAST_XEN_SLOT;
}

static void put_type(struct xd *xd, uint64_t pfn);

/* Drop the references the first n entries of a validated table took
 * (put_page_from_lNe(), xen/arch/x86/mm.c). */
static void put_entries(struct xd *xd, uint64_t pfn, unsigned int level,
                        unsigned int n)
{
    struct xd_state *s = xd->s;
    uint64_t t[512];

    read_page(xd, pfn, t);
    for ( unsigned int i = 0; i < n; i++ )
    {
        uint64_t tpfn;

        if ( !(t[i] & PTE_P) || (level == 4 && !is_guest_l4_slot(i)) )
            continue;
        tpfn = xd_mfn_to_pfn(s, (t[i] & PTE_FRAME) >> 12);
        if ( tpfn == ~0ULL )
            continue;
        if ( level > 1 || (t[i] & PTE_RW) )
            put_type(xd, tpfn);
    }
}

/* _put_page_type() (xen/arch/x86/mm.c): the last reference to a page table
 * devalidates it and drops what its entries hold. */
static void put_type(struct xd *xd, uint64_t pfn)
{
    struct xd_page *pg = &xd->s->page[pfn];

    if ( !pg->count )
        return;
    if ( --pg->count )
        return;
    if ( pg->type >= XD_PGT_L1 && pg->type <= XD_PGT_L4 && pg->validated )
    {
        pg->validated = 0;
        put_entries(xd, pfn, pg->type, 512);
    }
}

static int get_type(struct xd *xd, uint64_t pfn, unsigned int type);

/*
 * promote_l1_table() .. promote_l4_table() (xen/arch/x86/mm.c) with
 * get_page_from_l1e() .. get_page_from_l4e(): every present entry must have
 * allowed flags and name a frame the domain owns; an L1 entry with RW takes a
 * writable type reference on its frame (refused while that frame is a page
 * table), an Ln entry (n > 1) an L(n-1) type reference (validating it).
 * Linear page tables (an entry naming a table of its own level) are not
 * modelled: they are refused like a type mismatch.  After an L4 validates,
 * init_xen_l4_slots() fills Xen's slots 256-271.
 */
static int promote(struct xd *xd, uint64_t pfn, unsigned int level)
{
    struct xd_state *s = xd->s;
    uint64_t t[512];
    unsigned int i;
    int rc = 0;

    read_page(xd, pfn, t);
    for ( i = 0; i < 512; i++ )
    {
        uint64_t e = t[i], mfn, tpfn, bad;

        if ( level == 4 && !is_guest_l4_slot(i) )
            continue;
        if ( !(e & PTE_P) )
            continue;
        bad = e & 0xfffULL & ~(level == 1 ? L1_ALLOWED : LN_ALLOWED);
        if ( bad )
        {
            xenlog("d%u: Bad %s flags %lx", s->domid, level_name[level],
                  (unsigned long)bad);
            rc = -EINVAL;
            break;
        }
        mfn = (e & PTE_FRAME) >> 12;
        tpfn = xd_mfn_to_pfn(s, mfn);
        if ( level == 1 )
        {
            if ( mfn >= XD_MAX_PAGE )
            {
                /* !mfn_valid(): MMIO, which a domain without iomem caps may
                 * not map (get_page_from_l1e). */
                xenlog("d%u non-privileged attempt to map MMIO space %lx",
                      s->domid, (unsigned long)mfn);
                rc = -EPERM;
                break;
            }
            if ( tpfn == ~0ULL )
            {
                /* The shared info and grant frames are Xen pages shared with
                 * (owned by) the domain: mappable, no type tracking here. */
                if ( mfn == XD_SHINFO_MFN || mfn == XD_GNTTAB_MFN )
                    continue;
                xenlog("d%u: pg_owner d%u l1e_owner d%u, but real_pg_owner d%d"
                      " (mfn %lx in L1 slot %#x)", s->domid, s->domid, s->domid,
                      mfn >= XD_M2P_MFN && mfn < XD_M2P_MFN + XD_M2P_FRAMES
                      ? DOMID_XEN : -1, (unsigned long)mfn, i);
                rc = -EINVAL;
                break;
            }
            if ( e & PTE_RW )
                rc = get_type(xd, tpfn, XD_PGT_WRITABLE);
        }
        else
        {
            /* get_page_and_type_from_mfn(): get_page() fails for a frame the
             * domain does not own. */
            if ( tpfn == ~0ULL )
            {
                xenlog("d%u: %s slot %#x names mfn %lx, not the domain's",
                      s->domid, level_name[level], i, (unsigned long)mfn);
                rc = -EINVAL;
                break;
            }
            rc = get_type(xd, tpfn, level - 1);
        }
        if ( rc )
            break;
    }
    if ( rc )
    {
        xenlog("d%u: Failure %d in promote_%s_table: slot %#x", s->domid, rc,
              level == 1 ? "l1" : level == 2 ? "l2" : level == 3 ? "l3" : "l4",
              i);
        put_entries(xd, pfn, level, i);
        return rc;
    }
    if ( level == 4 )
    {
        /* init_xen_l4_slots(l4t, l4mfn, d, INVALID_MFN, m2p_strict). */
        for ( i = ROOT_FIRST_XEN_SLOT; i <= ROOT_LAST_XEN_SLOT; i++ )
            t[i] = ((XD_IDLE_L4_MFN + i) << 12) | PAGE_HYPERVISOR_RW;
        if ( !(s->vm_assist & (1ULL << VMASST_TYPE_m2p_strict)) )
            t[256] = 0;                                  /* RO M2P */
        t[258] = ((pfn + XD_MFN_BASE) << 12) | PAGE_HYPERVISOR_RW; /* linear */
        t[259] = 0;                                      /* shadow linear */
        t[260] = (XD_PERDOMAIN_MFN << 12) | PAGE_HYPERVISOR_RW;
        write_page(xd, pfn, t);
    }
    return 0;
}

/* _get_page_type() (xen/arch/x86/mm.c): a page has one type at a time; the
 * first reference of a page-table type validates it. */
static int get_type(struct xd *xd, uint64_t pfn, unsigned int type)
{
    struct xd_page *pg = &xd->s->page[pfn];
    int rc;

    if ( pg->count )
    {
        if ( pg->type != type || !pg->validated )
        {
            xenlog("d%u: Bad type (saw %u != exp %u) for mfn %lx (pfn %lx)",
                  xd->s->domid, pg->type, type,
                  (unsigned long)(pfn + XD_MFN_BASE), (unsigned long)pfn);
            return -EINVAL;
        }
        pg->count++;
        return 0;
    }
    pg->type = type;
    pg->validated = 0;
    pg->count = 1;
    if ( type >= XD_PGT_L1 && type <= XD_PGT_L4 )
    {
        rc = promote(xd, pfn, type);
        if ( rc )
        {
            pg->count = 0;
            pg->type = XD_PGT_NONE;
            return rc;
        }
    }
    pg->validated = 1;
    return 0;
}

int xd_pv_get_type(struct xd *xd, uint64_t pfn, unsigned int type)
{
    return get_type(xd, pfn, type);
}

/* do_mmuext_op() (xen/arch/x86/mm.c) MMUEXT_PIN_L1..L4_TABLE and
 * MMUEXT_UNPIN_TABLE for a foreign PV domain. */
int xd_pv_pin(struct xd *xd, unsigned int cmd, uint64_t mfn)
{
    struct xd_state *s = xd->s;
    uint64_t pfn = xd_mfn_to_pfn(s, mfn);
    struct xd_page *pg;
    int rc;

    /* get_page_from_gfn(pg_owner, mfn): for PV the gfn is the mfn. */
    if ( pfn == ~0ULL )
    {
        xenlog("d%u: mmuext_op %u: mfn %lx is not the domain's", s->domid, cmd,
              (unsigned long)mfn);
        return -EINVAL;
    }
    pg = &s->page[pfn];
    if ( cmd == MMUEXT_UNPIN_TABLE )
    {
        if ( !pg->pinned )
        {
            xenlog("d%u: mfn %lx not pinned", s->domid, (unsigned long)mfn);
            return -EINVAL;
        }
        pg->pinned = 0;
        put_type(xd, pfn);
        return 0;
    }
    if ( cmd > MMUEXT_PIN_L4_TABLE )
        return -ENOSYS;
    rc = get_type(xd, pfn, cmd - MMUEXT_PIN_L1_TABLE + XD_PGT_L1);
    if ( rc )
    {
        xenlog("d%u: Error %d while pinning mfn %lx", s->domid, rc,
              (unsigned long)mfn);
        return rc;
    }
    if ( pg->pinned )
    {
        xenlog("d%u: mfn %lx already pinned", s->domid, (unsigned long)mfn);
        put_type(xd, pfn);
        return -EINVAL;
    }
    pg->pinned = 1;
    return 0;
}

static int is_canonical(uint64_t a)
{
    return ((int64_t)a >> 47) == ((int64_t)a >> 63);
}

/* __addr_ok() (xen/arch/x86/include/asm/x86_64/uaccess.h). */
static int addr_ok(uint64_t a)
{
    return a < (1ULL << 47) || a >= XEN_VIRT_END_64;
}

/* __fixup_guest_selector() (xen/arch/x86/include/asm/desc.h): a 64-bit PV
 * kernel runs in ring 3, so an RPL below 3 is raised to 3. */
static uint16_t fixup_sel(uint16_t sel)
{
    return (sel & 3) >= 3 ? sel : (uint16_t)((sel & ~3) | 3);
}

/*
 * arch_set_info_guest() (xen/arch/x86/domain.c) for a 64-bit PV vcpu that is
 * not yet initialised, as XEN_DOMCTL_setvcpucontext calls it.  What it keeps
 * is what arch_get_info_guest() hands back later.
 */
int xd_pv_set_vcpu_context(struct xd *xd, unsigned int vcpu,
                           const struct vcpu_guest_context *in)
{
    struct xd_state *s = xd->s;
    struct xd_pv_vcpu *v = &s->pv_vcpu[vcpu];
    struct vcpu_guest_context c = *in;
    unsigned int i, nr_gdt;
    uint64_t cr3_pfn, t[512];
    int rc;

    if ( !is_canonical(c.user_regs.rip) || !is_canonical(c.user_regs.rsp) ||
         !is_canonical(c.kernel_sp) ||
         (c.ldt_ents && !is_canonical(c.ldt_base)) ||
         !is_canonical(c.fs_base) || !is_canonical(c.gs_base_kernel) ||
         !is_canonical(c.gs_base_user) || !is_canonical(c.event_callback_eip) ||
         !is_canonical(c.syscall_callback_eip) ||
         !is_canonical(c.failsafe_callback_eip) )
    {
        xenlog("d%uv%u: arch_set_info_guest: non-canonical address", s->domid, vcpu);
        return -EINVAL;
    }
    c.user_regs.ss = fixup_sel(c.user_regs.ss);
    c.kernel_ss = fixup_sel(c.kernel_ss);
    c.user_regs.cs = fixup_sel(c.user_regs.cs);
    for ( i = 0; i < 256; i++ )
    {
        if ( !is_canonical(c.trap_ctxt[i].address) )
        {
            xenlog("d%uv%u: arch_set_info_guest: trap %u address %#lx not canonical",
                  s->domid, vcpu, i, (unsigned long)c.trap_ctxt[i].address);
            return -EINVAL;
        }
        c.trap_ctxt[i].cs = fixup_sel(c.trap_ctxt[i].cs);
    }
    if ( !addr_ok(c.ldt_base) || (c.ldt_base & (XD_PAGE - 1)) || c.ldt_ents > 8192 )
    {
        xenlog("d%uv%u: arch_set_info_guest: bad LDT base %#lx / %lu entries",
              s->domid, vcpu, (unsigned long)c.ldt_base, (unsigned long)c.ldt_ents);
        return -EINVAL;
    }
    /* arch_vm_assist_valid_mask(): PV64_VM_ASSIST_MASK (domain.h). */
    if ( vcpu == 0 && (c.vm_assist & ~(0x3fULL | (1ULL << VMASST_TYPE_m2p_strict))) )
    {
        xenlog("d%uv0: arch_set_info_guest: vm_assist %#lx not valid for PV64",
              s->domid, (unsigned long)c.vm_assist);
        return -EINVAL;
    }
    /* IOPL is virtualised (given back by arch_get_info_guest()); IF forced on. */
    c.user_regs.rflags |= 0x200;

    nr_gdt = (c.gdt_ents + 511) / 512;
    if ( nr_gdt > 16 )
        return -EINVAL;

    if ( v->initialised )
    {
        /* A second set may not change the page tables, GDT or LDT. */
        if ( v->ctx.ctrlreg[3] != c.ctrlreg[3] || v->ctx.ctrlreg[1] != c.ctrlreg[1] ||
             v->ctx.gdt_ents != c.gdt_ents || v->ctx.ldt_ents != c.ldt_ents )
            return -EOPNOTSUPP;
    }
    else if ( !(c.flags & VGCF_in_kernel) && !c.ctrlreg[1] )
    {
        xenlog("d%uv%u: arch_set_info_guest: user mode without a user cr3 (cr1)",
              s->domid, vcpu);
        return -EINVAL;
    }

    /* Only CR0.TS is the guest's; pv_fixup_guest_cr4() keeps TSD and DE. */
    c.ctrlreg[0] = (c.ctrlreg[0] & X86_CR0_TS) | (HOST_CR0 & ~X86_CR0_TS);
    c.ctrlreg[4] &= 0x4 | 0x8;

    /* set_debugreg() (xen/arch/x86/pv/misc-hypercalls.c); its result is
     * ignored by arch_set_info_guest(): a value it refuses is dropped. */
    {
        uint64_t dr[8];

        memcpy(dr, c.debugreg, sizeof(dr));
        memset(c.debugreg, 0, sizeof(c.debugreg));
        for ( i = 0; i < 4; i++ )
            if ( is_canonical(dr[i]) && addr_ok(dr[i]) )
                c.debugreg[i] = dr[i];
        c.debugreg[6] = ((uint32_t)dr[6] | 0xffff0ff0U) & ~0x1000U;
        c.debugreg[7] = (dr[7] >> 32) || (dr[7] & 0xd800) ? 0x400 : dr[7] | 0x400;
    }

    if ( v->initialised )
        goto out;

    if ( vcpu == 0 )
        s->vm_assist = c.vm_assist;

    /* pv_set_gdt() (xen/arch/x86/pv/descriptor-tables.c): at most
     * FIRST_RESERVED_GDT_ENTRY entries, each frame the domain's and typed as a
     * descriptor page (the descriptors themselves are not checked here). */
    if ( c.gdt_ents > 14 * 512 )
        return -EINVAL;
    for ( i = 0; i < nr_gdt; i++ )
    {
        uint64_t gpfn = xd_mfn_to_pfn(s, c.gdt_frames[i]);

        if ( gpfn == ~0ULL || (rc = get_type(xd, gpfn, XD_PGT_SEG_DESC)) )
        {
            xenlog("d%uv%u: pv_set_gdt: frame %u (mfn %lx) refused", s->domid,
                  vcpu, i, (unsigned long)c.gdt_frames[i]);
            return -EINVAL;
        }
    }

    /* cr3: get_page_from_mfn(cr3_mfn, d), then a PGT_root_page_table
     * (L4) type reference -- which validates the whole tree. */
    cr3_pfn = xd_mfn_to_pfn(s, c.ctrlreg[3] >> 12);
    if ( cr3_pfn == ~0ULL )
    {
        xenlog("d%uv%u: arch_set_info_guest: cr3 %#lx is not the domain's",
              s->domid, vcpu, (unsigned long)c.ctrlreg[3]);
        return -EINVAL;
    }
    rc = get_type(xd, cr3_pfn, XD_PGT_L4);
    if ( rc )
    {
        xenlog("d%uv%u: arch_set_info_guest: cr3 mfn %lx refused as an L4 (%d)",
              s->domid, vcpu, (unsigned long)(c.ctrlreg[3] >> 12), rc);
        return rc;
    }
    if ( !(s->vm_assist & (1ULL << VMASST_TYPE_m2p_strict)) )
    {
        /* fill_ro_mpt() */
        read_page(xd, cr3_pfn, t);
        if ( !t[256] )
        {
            t[256] = ((XD_IDLE_L4_MFN + 256) << 12) | PAGE_HYPERVISOR_RW;
            write_page(xd, cr3_pfn, t);
        }
    }
    if ( c.ctrlreg[1] )
    {
        uint64_t u = xd_mfn_to_pfn(s, c.ctrlreg[1] >> 12);

        if ( u == ~0ULL || (rc = get_type(xd, u, XD_PGT_L4)) )
        {
            put_type(xd, cr3_pfn);
            xenlog("d%uv%u: arch_set_info_guest: user cr3 (cr1) %#lx refused",
                  s->domid, vcpu, (unsigned long)c.ctrlreg[1]);
            return -EINVAL;
        }
    }
    v->initialised = 1;

 out:
    /* arch_get_info_guest() reports VGCF_online for a vcpu that is up. */
    c.flags |= VGCF_online;
    v->ctx = c;
    v->up = 1;
    return 0;
}

/* struct hvm_vmce_vcpu sizes Xen 4.17 takes, largest first
 * (vcpu_set_vmce(), xen/arch/x86/domctl.c). */
static const unsigned int vmce_sizes[] = { 32, 24, 8 };
/* vmce_restore_vcpu() (xen/arch/x86/cpu/mcheck/vmce.c) on an Intel host:
 * INTEL_GUEST_MCG_CAP | MCG_LMCE_P, plus MCG_CAP_COUNT and MCG_CTL_P. */
#define GUEST_MCG_CAP_OK ((1ULL << 11) | (1ULL << 24) | (1ULL << 10) | 2 | \
                          (1ULL << 27) | 0xff | (1ULL << 8))

/* XEN_DOMCTL_set_ext_vcpucontext (arch_do_domctl(), xen/arch/x86/domctl.c). */
int xd_pv_set_ext(struct xd *xd, const void *p)
{
    struct xd_state *s = xd->s;
    struct xen_domctl_ext_vcpucontext evc;
    size_t off = offsetof(struct xen_domctl_ext_vcpucontext, vmce);
    unsigned int vsize, i;

    memcpy(&evc, p, sizeof(evc));
    if ( evc.vcpu >= s->max_vcpus )
    {
        xenlog("d%u: set_ext_vcpucontext: no vcpu %u", s->domid, evc.vcpu);
        return -ESRCH;
    }
    if ( evc.size < off )
    {
        xenlog("d%uv%u: set_ext_vcpucontext: size %u < %zu", s->domid, evc.vcpu,
              evc.size, off);
        return -EINVAL;
    }
    if ( !is_canonical(evc.sysenter_callback_eip) ||
         !is_canonical(evc.syscall32_callback_eip) )
    {
        xenlog("d%uv%u: set_ext_vcpucontext: non-canonical callback", s->domid,
              evc.vcpu);
        return -EINVAL;
    }
    evc.sysenter_callback_cs = fixup_sel(evc.sysenter_callback_cs);
    evc.syscall32_callback_cs = fixup_sel(evc.syscall32_callback_cs);
    vsize = evc.size - off < sizeof(evc.vmce) ? evc.size - off : sizeof(evc.vmce);
    for ( i = 0; i < 3 && vsize < vmce_sizes[i]; i++ )
        ;
    if ( i < 3 )
    {
        struct hvm_vmce_vcpu vm = { 0 };

        memcpy(&vm, &evc.vmce, vmce_sizes[i]);
        if ( vm.caps & ~GUEST_MCG_CAP_OK )
        {
            xenlog("PV restore: unsupported MCA capabilities %#lx for d%uv%u",
                  (unsigned long)vm.caps, s->domid, evc.vcpu);
            return -EINVAL;
        }
        evc.vmce = vm;
    }
    else
        memset(&evc.vmce, 0, sizeof(evc.vmce));
    evc.size = sizeof(evc);
    memcpy(s->pv_vcpu[evc.vcpu].ext, &evc, sizeof(evc));
    return 0;
}

int xd_pv_get_ext(struct xd *xd, void *p)
{
    struct xd_state *s = xd->s;
    struct xen_domctl_ext_vcpucontext evc;
    uint32_t vcpu;

    memcpy(&vcpu, p, sizeof(vcpu));
    if ( vcpu >= s->max_vcpus )
        return -ESRCH;
    memcpy(&evc, s->pv_vcpu[vcpu].ext, sizeof(evc));
    evc.vcpu = vcpu;
    evc.size = sizeof(evc);
    memcpy(p, &evc, sizeof(evc));
    return 0;
}

static uint32_t xstate_ctxt_size(uint64_t xcr0)
{
    return (xcr0 & 0x4) ? 576 + 256 : 576;
}

static int valid_xcr0(uint64_t x)
{
    return (x & 1) && (!(x & 4) || (x & 2));
}

/* XEN_DOMCTL_setvcpuextstate (arch_do_domctl()) with validate_xstate()
 * (xen/arch/x86/xstate.c); the policy's xcr0_max is the host's 0x7. */
int xd_pv_set_xsave(struct xd *xd, unsigned int vcpu, const uint8_t *buf,
                    uint64_t size)
{
    struct xd_state *s = xd->s;
    uint64_t xcr0, accum, bv, comp, rsvd = 0;
    int rc = -EINVAL;

    if ( vcpu >= s->max_vcpus )
        return -ESRCH;
    if ( size < 16 || size > 16 + xstate_ctxt_size(HOST_XFEATURE_MASK) )
    {
        xenlog("d%uv%u: setvcpuextstate: size %lu out of range", s->domid, vcpu,
              (unsigned long)size);
        return -EINVAL;
    }
    memcpy(&xcr0, buf, 8);
    memcpy(&accum, buf + 8, 8);
    if ( accum )
    {
        if ( size >= 16 + 576 )
        {
            memcpy(&bv, buf + 16 + 512, 8);
            memcpy(&comp, buf + 16 + 520, 8);
            for ( unsigned int i = 0; i < 6; i++ )
            {
                uint64_t r;
                memcpy(&r, buf + 16 + 528 + 8 * i, 8);
                rsvd |= r;
            }
            if ( (bv & ~accum) || (xcr0 & ~accum) ||
                 (accum & ~HOST_XFEATURE_MASK) || !valid_xcr0(xcr0) ||
                 !valid_xcr0(accum) )
                rc = -EINVAL;
            else if ( comp )
                rc = -EOPNOTSUPP;
            else if ( rsvd )
                rc = -EIO;
            else
                rc = 0;
        }
    }
    else if ( !xcr0 )
        rc = 0;
    if ( rc )
    {
        xenlog("d%uv%u: setvcpuextstate: xcr0 %#lx accum %#lx refused (%d)",
              s->domid, vcpu, (unsigned long)xcr0, (unsigned long)accum, rc);
        return rc;
    }
    if ( size == 16 )
        return 0;
    if ( size < 16 + 576 )
        return -EINVAL;
    if ( size != 16 + xstate_ctxt_size(accum) )
    {
        xenlog("d%uv%u: setvcpuextstate: size %lu != %u for xcr0_accum %#lx",
              s->domid, vcpu, (unsigned long)size, 16 + xstate_ctxt_size(accum),
              (unsigned long)accum);
        return -EINVAL;
    }
    memcpy(s->pv_vcpu[vcpu].xsave, buf, size);
    s->pv_vcpu[vcpu].xsave_len = size;
    return 0;
}

/* XEN_DOMCTL_set_vcpu_msrs (arch_do_domctl()): only msrs_to_send[], each
 * through guest_wrmsr() (xen/arch/x86/msr.c) against the double's Intel
 * policy (IBRS, STIBP, SSBD; CPUID faulting; RDTSCP). */
int xd_pv_set_msrs(struct xd *xd, unsigned int vcpu, const void *p,
                   uint32_t *count)
{
    struct xd_state *s = xd->s;
    const xen_domctl_vcpu_msr_t *m = p;
    struct xd_pv_vcpu *v;
    uint32_t i;

    if ( vcpu >= s->max_vcpus )
        return -ESRCH;
    if ( *count > 7 )
        return -EINVAL;
    v = &s->pv_vcpu[vcpu];
    for ( i = 0; i < *count; i++ )
    {
        int ok = 0;

        if ( m[i].reserved )
            break;
        switch ( m[i].index )
        {
        case 0x48:          /* MSR_SPEC_CTRL: IBRS | STIBP | SSBD */
            ok = !(m[i].value & ~0x7ULL);
            break;
        case 0x140:         /* MSR_INTEL_MISC_FEATURES_ENABLES: CPUID faulting */
            ok = !(m[i].value & ~0x1ULL);
            break;
        case 0xc0000103:    /* MSR_TSC_AUX */
            ok = !(m[i].value >> 32);
            break;
        default:            /* the AMD DR masks need DBEXT: not this host */
            ok = 0;
        }
        if ( !ok )
            break;
        {
            uint32_t j;
            for ( j = 0; j < v->nr_msrs && v->msr_index[j] != m[i].index; j++ )
                ;
            if ( j == v->nr_msrs && j < XD_MAX_VMSRS )
                v->nr_msrs++;
            if ( j < XD_MAX_VMSRS )
            {
                v->msr_index[j] = m[i].index;
                v->msr_value[j] = m[i].value;
            }
        }
    }
    if ( i != *count )
    {
        xenlog("d%uv%u: set_vcpu_msrs: MSR %#x = %#lx refused", s->domid, vcpu,
              m[i].index, (unsigned long)m[i].value);
        *count = i;
        return -EINVAL;
    }
    return 0;
}

/* What libxc's normalise_pagetable() (tools/libs/guest/xg_sr_save_x86_pv.c)
 * makes of a page table: L4 slots 256-272 (HYPERVISOR_VIRT_START..END)
 * cleared, present entries' mfns turned into pfns. */
void xd_pv_normalise(const struct xd_state *s, unsigned int type, uint64_t *t)
{
    for ( unsigned int i = 0; i < 512; i++ )
    {
        uint64_t pfn;

        if ( type == XD_PGT_L4 && i >= 256 && i <= 272 )
        {
            t[i] = 0;
            continue;
        }
        if ( !(t[i] & PTE_P) )
            continue;
        pfn = xd_mfn_to_pfn(s, (t[i] & PTE_FRAME) >> 12);
        if ( pfn != ~0ULL )
            t[i] = (t[i] & ~PTE_FRAME) | (pfn << 12);
    }
}
