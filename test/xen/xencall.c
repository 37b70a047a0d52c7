/*
 * xen-double: a stand-in for Debian's libxencall.so.1 that, instead of
 * issuing ioctls on /dev/xen/privcmd, hands each hypercall to an in-process
 * hypervisor double whose one domain lives in $XEN_DOUBLE_DIR.
 *
 * Return convention as Linux privcmd: the hypercall's non-negative result, or
 * -1 with errno set to the positive Xen errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "double.h"

#include <xen/domctl.h>
#include <xen/sysctl.h>
#include <xen/memory.h>
#include <xen/version.h>
#include <xen/hvm/hvm_op.h>
#include <xen/sched.h>
#include <xen/grant_table.h>

struct xentoollog_logger;
typedef struct xencall_handle {
    int fd;
} xencall_handle;

static struct xd hv;
static int hv_ready;

static int hv_init(void)
{
    if ( hv_ready )
        return 0;
    if ( xd_open(&hv, NULL, 0) )
        return -1;
    hv_ready = 1;
    return 0;
}

/* ---------------------------------------------------------------- API */

xencall_handle *xencall_open(struct xentoollog_logger *logger,
                             unsigned open_flags)
{
    xencall_handle *h;

    (void)logger; (void)open_flags;
    /* No state directory is to the double what a missing privcmd is to Linux. */
    if ( hv_init() )
    {
        fprintf(stderr, "xen-double: no domain state in $XEN_DOUBLE_DIR: %s\n",
                strerror(errno));
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if ( !h )
        return NULL;
    h->fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    return h;
}

int xencall_close(xencall_handle *xcall)
{
    if ( !xcall )
        return 0;
    if ( xcall->fd >= 0 )
        close(xcall->fd);
    free(xcall);
    return 0;
}

int xencall_fd(xencall_handle *xcall)
{
    return xcall->fd;
}

int xencall_buffers_never_fault(xencall_handle *xcall)
{
    (void)xcall;
    return 1;
}

void *xencall_alloc_buffer_pages(xencall_handle *xcall, size_t nr_pages)
{
    void *p;

    (void)xcall;
    p = mmap(NULL, nr_pages * XD_PAGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ( p == MAP_FAILED )
        return NULL;
    return p;
}

void xencall_free_buffer_pages(xencall_handle *xcall, void *p, size_t nr_pages)
{
    (void)xcall;
    if ( p )
        munmap(p, nr_pages * XD_PAGE);
}

/* Byte-sized buffers: one header page in front records the page count. */
void *xencall_alloc_buffer(xencall_handle *xcall, size_t size)
{
    size_t nr = (size + XD_PAGE - 1) / XD_PAGE + 1;
    uint8_t *p = xencall_alloc_buffer_pages(xcall, nr);

    if ( !p )
        return NULL;
    *(size_t *)p = nr;
    return p + XD_PAGE;
}

void xencall_free_buffer(xencall_handle *xcall, void *p)
{
    uint8_t *base;

    if ( !p )
        return;
    base = (uint8_t *)p - XD_PAGE;
    xencall_free_buffer_pages(xcall, base, *(size_t *)base);
}

static long issue(unsigned int op, uint64_t a1, uint64_t a2, uint64_t a3,
                  uint64_t a4, uint64_t a5)
{
    long rc;

    if ( hv_init() )
        return -1;
    rc = xd_hypercall(op, a1, a2, a3, a4, a5);
    if ( rc < 0 && rc > -4096 )
    {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

int xencall0(xencall_handle *x, unsigned int op)
{ (void)x; return issue(op, 0, 0, 0, 0, 0); }
int xencall1(xencall_handle *x, unsigned int op, uint64_t a1)
{ (void)x; return issue(op, a1, 0, 0, 0, 0); }
int xencall2(xencall_handle *x, unsigned int op, uint64_t a1, uint64_t a2)
{ (void)x; return issue(op, a1, a2, 0, 0, 0); }
long xencall2L(xencall_handle *x, unsigned int op, uint64_t a1, uint64_t a2)
{ (void)x; return issue(op, a1, a2, 0, 0, 0); }
int xencall3(xencall_handle *x, unsigned int op, uint64_t a1, uint64_t a2,
             uint64_t a3)
{ (void)x; return issue(op, a1, a2, a3, 0, 0); }
int xencall4(xencall_handle *x, unsigned int op, uint64_t a1, uint64_t a2,
             uint64_t a3, uint64_t a4)
{ (void)x; return issue(op, a1, a2, a3, a4, 0); }
int xencall5(xencall_handle *x, unsigned int op, uint64_t a1, uint64_t a2,
             uint64_t a3, uint64_t a4, uint64_t a5)
{ (void)x; return issue(op, a1, a2, a3, a4, a5); }

/* ------------------------------------------------------- the hypervisor */

#define XD_XEN_VERSION ((4 << 16) | 17)

/* xen/arch/x86/include/asm/time.h */
#define TSC_MODE_DEFAULT          0
#define TSC_MODE_ALWAYS_EMULATE   1
#define TSC_MODE_NEVER_EMULATE    2

static struct xd_state *dom(domid_t domid)
{
    struct xd_state *s = hv.s;

    if ( !s->exists || s->domid != domid )
        return NULL;
    return s;
}

static long populate_physmap(struct xen_memory_reservation *r)
{
    struct xd_state *s = dom(r->domid);
    xen_pfn_t *gpfns = r->extent_start.p;
    unsigned long i, nr = 1UL << r->extent_order;

    if ( !s )
        return -ESRCH;
    for ( i = 0; i < r->nr_extents; i++ )
    {
        xen_pfn_t gpfn = gpfns[i];
        unsigned long j, fresh = 0;

        if ( gpfn + nr > XD_MAX_PFNS )
            return i ? (long)i : -EINVAL;
        for ( j = 0; j < nr; j++ )
            if ( !xd_test(s->populated, gpfn + j) )
                fresh++;
        /*
         * Models assign_pages() (xen/common/page_alloc.c): a domain may not
         * hold more than max_pages; populate_physmap() (xen/common/memory.c)
         * then stops and reports how many extents it managed.
         */
        if ( s->tot_pages + fresh > s->max_pages )
        {
            xenlog("Over-allocation for d%u: %lu > %lu", s->domid,
                   (unsigned long)(s->tot_pages + fresh),
                   (unsigned long)s->max_pages);
            return i;
        }
        if ( xd_ram_cover(&hv, gpfn + nr - 1) )
            return i ? (long)i : -ENOMEM;
        for ( j = 0; j < nr; j++ )
        {
            s->page[gpfn + j] = (struct xd_page){ 0 };
            if ( xd_test(s->populated, gpfn + j) )
            {
                /* Replacing a page: the old contents go, as a fresh page. */
                static const uint8_t zero[XD_PAGE];
                if ( pwrite(hv.ramfd, zero, XD_PAGE, (gpfn + j) * XD_PAGE) < 0 )
                    return -EIO;
                continue;
            }
            xd_set(s->populated, gpfn + j);
            s->tot_pages++;
            if ( s->guest_type == XD_TYPE_PV )
                xd_set_m2p(&hv, gpfn + j + XD_MFN_BASE, gpfn + j);
        }
        /*
         * The gfn is the "mfn" the caller gets back for an HVM guest; a PV
         * (not translated) guest gets the machine frame: populate_physmap()
         * (xen/common/memory.c) writes it back over the extent, after
         * guest_physmap_add_page() set the M2P entry.
         */
        if ( s->guest_type == XD_TYPE_PV )
            gpfns[i] = gpfn + XD_MFN_BASE;
    }
    return r->nr_extents;
}

static long memory_op(unsigned long cmd, void *arg)
{
    switch ( cmd )
    {
    case XENMEM_maximum_gpfn:
    {
        struct xen_memory_domain *d = arg;
        struct xd_state *s = dom(d->domid);

        if ( !s )
            return -ESRCH;
        /* domain_get_maximum_gpfn() (xen/arch/x86/mm.c): a PV domain's is
         * its shared info arch.max_pfn (or 1), less one. */
        if ( s->guest_type == XD_TYPE_PV )
        {
            uint64_t m = ((struct shared_info *)s->shinfo)->arch.max_pfn;
            return (m ? m : 1) - 1;
        }
        return xd_max_pfn(s);
    }
    case XENMEM_maximum_ram_page:
        /* max_page: one past the highest machine frame. */
        return XD_MAX_PAGE;
    case XENMEM_machphys_mfn_list:
    {
        /* subarch_memory_op() (xen/arch/x86/x86_64/mm.c): the first mfn of
         * each 2 MiB chunk of the M2P table. */
        struct xen_machphys_mfn_list *l = arg;
        unsigned int i;

        for ( i = 0; i < l->max_extents && i < XD_M2P_CHUNKS; i++ )
            l->extent_start.p[i] = XD_M2P_MFN + i * 512;
        l->nr_extents = i;
        return 0;
    }
    case XENMEM_populate_physmap:
        return populate_physmap(arg);
    case XENMEM_decrease_reservation:
    {
        struct xen_memory_reservation *r = arg;
        struct xd_state *s = dom(r->domid);
        unsigned long i;

        if ( !s || r->extent_order )
            return s ? -EINVAL : -ESRCH;
        for ( i = 0; i < r->nr_extents; i++ )
        {
            xen_pfn_t g = r->extent_start.p[i];
            /* guest_remove_page(): a PV guest names the machine frame. */
            if ( s->guest_type == XD_TYPE_PV )
            {
                g = xd_mfn_to_pfn(s, g);
                if ( g == ~0UL )
                    return i;
                xd_set_m2p(&hv, g + XD_MFN_BASE, ~0ULL);
            }
            if ( !xd_test(s->populated, g) )
                return i;
            xd_clear(s->populated, g);
            s->tot_pages--;
        }
        return r->nr_extents;
    }
    case XENMEM_add_to_physmap:
    {
        /* Only what compat_gnttab_hvm_seed() (tools/libs/guest/xg_dom_boot.c)
         * asks for: shared grant frame 0 placed at a scratch gfn. */
        struct xen_add_to_physmap *x = arg;
        struct xd_state *s = dom(x->domid);

        if ( !s )
            return -ESRCH;
        if ( x->space != XENMAPSPACE_grant_table || x->idx != 0 ||
             x->gpfn >= XD_MAX_PFNS )
            return -EOPNOTSUPP;
        s->gnttab_mapped = 1;
        s->gnttab_gfn = x->gpfn;
        return 0;
    }
    case XENMEM_remove_from_physmap:
    {
        struct xen_remove_from_physmap *x = arg;
        struct xd_state *s = dom(x->domid);

        if ( !s )
            return -ESRCH;
        if ( s->gnttab_mapped && x->gpfn == s->gnttab_gfn )
        {
            s->gnttab_mapped = 0;
            return 0;
        }
        if ( !xd_test(s->populated, x->gpfn) )
            return -ENOENT;
        xd_clear(s->populated, x->gpfn);
        s->tot_pages--;
        return 0;
    }
    default:
        return -ENOSYS;
    }
}

static uint32_t domain_flags(const struct xd_state *s)
{
    uint32_t f = 0;

    if ( s->guest_type == XD_TYPE_HVM )
        f |= XEN_DOMINF_hvm_guest | XEN_DOMINF_hap;
    if ( s->shutdown )
        f |= XEN_DOMINF_shutdown |
             ((s->shutdown_reason & XEN_DOMINF_shutdownmask)
              << XEN_DOMINF_shutdownshift);
    if ( s->paused )
        f |= XEN_DOMINF_paused;
    else
        f |= XEN_DOMINF_blocked;
    return f;
}

static long shadow_op(struct xd_state *s, struct xen_domctl_shadow_op *sc)
{
    uint64_t max = xd_max_pfn(s) + 1, pages, i;
    uint8_t *bm;

    switch ( sc->op )
    {
    case XEN_DOMCTL_SHADOW_OP_OFF:
        /* paging_domctl()/hap_domctl(): turning off is fine when already off. */
        s->logdirty = 0;
        return 0;
    case XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY:
        /* paging_log_dirty_enable() (xen/arch/x86/mm/paging.c): -EINVAL if on. */
        if ( s->logdirty )
            return -EINVAL;
        s->logdirty = 1;
        memset(s->dirty, 0, sizeof(s->dirty));
        s->dirty_count = s->fault_count = 0;
        return 0;
    case XEN_DOMCTL_SHADOW_OP_CLEAN:
    case XEN_DOMCTL_SHADOW_OP_PEEK:
        /* paging_log_dirty_op(): log-dirty must be on. */
        if ( !s->logdirty )
            return -EINVAL;
        sc->stats.dirty_count = s->dirty_count;
        sc->stats.fault_count = s->fault_count;
        pages = sc->pages < max ? sc->pages : max;
        bm = sc->dirty_bitmap.p;
        if ( bm )
            for ( i = 0; i < pages; i += 8 )
            {
                uint8_t byte = 0;
                for ( unsigned int b = 0; b < 8 && i + b < pages; b++ )
                    if ( xd_test(s->dirty, i + b) )
                        byte |= 1u << b;
                bm[i / 8] = byte;
            }
        if ( sc->op == XEN_DOMCTL_SHADOW_OP_CLEAN )
        {
            memset(s->dirty, 0, sizeof(s->dirty));
            s->dirty_count = s->fault_count = 0;
        }
        sc->pages = pages;
        return 0;
    case XEN_DOMCTL_SHADOW_OP_GET_ALLOCATION:
        sc->mb = 4;
        return 0;
    case XEN_DOMCTL_SHADOW_OP_SET_ALLOCATION:
        return 0;
    default:
        return -EINVAL;
    }
}

static long get_cpu_policy(struct xd_state *s, struct xen_domctl_cpu_policy *p)
{
    /* arch_do_domctl() XEN_DOMCTL_get_cpu_policy: NULL buffers ask for sizes. */
    if ( !p->leaves.p && !p->msrs.p )
    {
        p->nr_leaves = XD_MAX_SERIALISED_LEAVES;
        p->nr_msrs = XD_MAX_SERIALISED_MSRS;
        return 0;
    }
    if ( p->leaves.p )
    {
        if ( p->nr_leaves < s->nr_leaves )
            return -ENOBUFS;
        memcpy(p->leaves.p, s->leaves, s->nr_leaves * sizeof(xen_cpuid_leaf_t));
        p->nr_leaves = s->nr_leaves;
    }
    if ( p->msrs.p )
    {
        if ( p->nr_msrs < s->nr_msrs )
            return -ENOBUFS;
        memcpy(p->msrs.p, s->msrs, s->nr_msrs * sizeof(xen_msr_entry_t));
        p->nr_msrs = s->nr_msrs;
    }
    return 0;
}

static long set_cpu_policy(struct xd_state *s, struct xen_domctl_cpu_policy *p)
{
    int rc = xd_check_cpu_policy(p->leaves.p, p->nr_leaves, p->msrs.p,
                                 p->nr_msrs, &p->err_leaf, &p->err_subleaf,
                                 &p->err_msr);
    if ( rc )
        return rc;
    /* Xen merges into the existing policy; a full serialised policy (what
     * libxc sends) replaces every leaf, so keeping the list is equivalent. */
    if ( p->nr_leaves )
    {
        memcpy(s->leaves, p->leaves.p, p->nr_leaves * sizeof(xen_cpuid_leaf_t));
        s->nr_leaves = p->nr_leaves;
    }
    if ( p->nr_msrs )
    {
        memcpy(s->msrs, p->msrs.p, p->nr_msrs * sizeof(xen_msr_entry_t));
        s->nr_msrs = p->nr_msrs;
    }
    return 0;
}

static long domctl(struct xen_domctl *d)
{
    struct xd_state *s;

    /* do_domctl() (xen/common/domctl.c). */
    if ( d->interface_version != XEN_DOMCTL_INTERFACE_VERSION )
        return -EACCES;

    if ( d->cmd == XEN_DOMCTL_getdomaininfo )
    {
        struct xen_domctl_getdomaininfo *i = &d->u.getdomaininfo;

        /* Returns the first domain with an id >= the one asked for. */
        s = hv.s;
        if ( !s->exists || s->domid < d->domain )
            return -ESRCH;
        memset(i, 0, sizeof(*i));
        d->domain = s->domid;
        i->domain = s->domid;
        i->flags = domain_flags(s);
        i->tot_pages = s->tot_pages;
        i->max_pages = s->max_pages;
        /* HVM: any gfn (guests map it themselves); PV: the machine frame of
         * the Xen page shared with the domain. */
        i->shared_info_frame = s->guest_type == XD_TYPE_PV ? XD_SHINFO_MFN
                                                          : 0xfefffULL;
        i->nr_online_vcpus = s->max_vcpus;
        i->max_vcpu_id = s->max_vcpus - 1;
        i->gpaddr_bits = 52;
        return 0;
    }

    s = dom(d->domain);
    if ( !s )
        return -ESRCH;

    switch ( d->cmd )
    {
    case XEN_DOMCTL_pausedomain:
        s->paused = 1;
        return 0;
    case XEN_DOMCTL_unpausedomain:
        s->paused = 0;
        return 0;
    case XEN_DOMCTL_max_mem:
        s->max_pages = d->u.max_mem.max_memkb >> 2;
        return 0;
    case XEN_DOMCTL_shadow_op:
        return shadow_op(s, &d->u.shadow_op);
    case XEN_DOMCTL_getpageframeinfo3:
    {
        /* arch_do_domctl(): at most 1024 per call; unpopulated gfns are XTAB;
         * HVM RAM carries no page-table type (NOTAB). */
        unsigned int n = d->u.getpageframeinfo3.num;
        xen_pfn_t *a = d->u.getpageframeinfo3.array.p;

        if ( n > 1024 )
            return -E2BIG;
        if ( s->guest_type == XD_TYPE_PV )
        {
            /* PV: the array holds mfns; a frame the domain does not own is
             * XTAB; the page-table type (even a stale, devalidated one) and
             * the pinned bit as type_info holds them. */
            for ( unsigned int i = 0; i < n; i++ )
            {
                uint64_t pfn = xd_mfn_to_pfn(s, a[i]);
                const struct xd_page *pg;

                if ( pfn == ~0ULL )
                {
                    a[i] = XEN_DOMCTL_PFINFO_XTAB;
                    continue;
                }
                pg = &s->page[pfn];
                a[i] = pg->type >= XD_PGT_L1 && pg->type <= XD_PGT_L4
                       ? (xen_pfn_t)pg->type << XEN_DOMCTL_PFINFO_LTAB_SHIFT
                       : XEN_DOMCTL_PFINFO_NOTAB;
                if ( pg->pinned )
                    a[i] |= XEN_DOMCTL_PFINFO_LPINTAB;
            }
            return 0;
        }
        for ( unsigned int i = 0; i < n; i++ )
            a[i] = xd_test(s->populated, a[i]) ? XEN_DOMCTL_PFINFO_NOTAB
                                              : XEN_DOMCTL_PFINFO_XTAB;
        return 0;
    }
    case XEN_DOMCTL_gethvmcontext:
    {
        struct xen_domctl_hvmcontext *c = &d->u.hvmcontext;

        if ( s->guest_type != XD_TYPE_HVM )
            return -EINVAL;
        if ( !c->buffer.p )
        {
            c->size = s->hvm_ctx_len;
            return 0;
        }
        if ( c->size < s->hvm_ctx_len )
            return -ENOSPC;
        memcpy(c->buffer.p, s->hvm_ctx, s->hvm_ctx_len);
        c->size = s->hvm_ctx_len;
        return 0;
    }
    case XEN_DOMCTL_sethvmcontext:
    {
        struct xen_domctl_hvmcontext *c = &d->u.hvmcontext;
        int rc;

        if ( s->guest_type != XD_TYPE_HVM )
            return -EINVAL;
        if ( c->size > XD_CTX_MAX )
            return -ENOMEM;
        rc = xd_check_hvm_context(s, c->buffer.p, c->size);
        if ( rc )
            return rc;
        memcpy(s->hvm_ctx, c->buffer.p, c->size);
        s->hvm_ctx_len = c->size;
        return 0;
    }
    case XEN_DOMCTL_gettscinfo:
        d->u.tsc_info.tsc_mode = s->tsc_mode;
        d->u.tsc_info.gtsc_khz = s->tsc_khz;
        d->u.tsc_info.incarnation = s->tsc_incarnation;
        d->u.tsc_info.elapsed_nsec = s->tsc_nsec;
        return 0;
    case XEN_DOMCTL_settscinfo:
        /* tsc_set_info() (xen/arch/x86/time.c): only the three modes Xen 4.17
         * knows; the incarnation goes up by one on every set (a restore). */
        switch ( d->u.tsc_info.tsc_mode )
        {
        case TSC_MODE_DEFAULT:
        case TSC_MODE_ALWAYS_EMULATE:
        case TSC_MODE_NEVER_EMULATE:
            break;
        default:
            xenlog("d%u: tsc_set_info: unknown TSC mode %u", s->domid,
                   d->u.tsc_info.tsc_mode);
            return -EINVAL;
        }
        s->tsc_mode = d->u.tsc_info.tsc_mode;
        s->tsc_khz = d->u.tsc_info.gtsc_khz;
        s->tsc_incarnation = d->u.tsc_info.incarnation + 1;
        s->tsc_nsec = d->u.tsc_info.elapsed_nsec;
        return 0;
    case XEN_DOMCTL_get_cpu_policy:
        return get_cpu_policy(s, &d->u.cpu_policy);
    case XEN_DOMCTL_get_address_size:
        if ( s->guest_type != XD_TYPE_PV )
            return -EINVAL;
        d->u.address_size.size = s->guest_width * 8;
        return 0;
    case XEN_DOMCTL_set_address_size:
        /* switch_compat() would make a 32-bit PV domain: not modelled. */
        if ( s->guest_type != XD_TYPE_PV )
            return -EINVAL;
        if ( d->u.address_size.size == 64 )
            return 0;
        xenlog("d%u: set_address_size %u: compat PV is not modelled",
               s->domid, d->u.address_size.size);
        return -EOPNOTSUPP;
    case XEN_DOMCTL_getvcpuinfo:
    {
        struct xen_domctl_getvcpuinfo *vi = &d->u.getvcpuinfo;
        uint32_t v = vi->vcpu;

        if ( v >= s->max_vcpus )
            return -ESRCH;
        memset(vi, 0, sizeof(*vi));
        vi->vcpu = v;
        vi->online = s->guest_type == XD_TYPE_HVM || s->pv_vcpu[v].up;
        vi->blocked = !s->paused;
        vi->cpu = v;
        return 0;
    }
    case XEN_DOMCTL_setvcpucontext:
    case XEN_DOMCTL_getvcpucontext:
    {
        struct xen_domctl_vcpucontext *vc = &d->u.vcpucontext;

        if ( s->guest_type != XD_TYPE_PV )
            return -ENOSYS;
        if ( vc->vcpu >= s->max_vcpus )
            return -EINVAL;
        if ( d->cmd == XEN_DOMCTL_getvcpucontext )
        {
            /* arch_get_info_guest() (xen/arch/x86/domctl.c). */
            if ( !vc->ctxt.p )
                return -EINVAL;
            memcpy(vc->ctxt.p, &s->pv_vcpu[vc->vcpu].ctx,
                   sizeof(struct vcpu_guest_context));
            return 0;
        }
        if ( !vc->ctxt.p )
        {
            /* A NULL context resets the vcpu (arch_vcpu_reset()). */
            memset(&s->pv_vcpu[vc->vcpu], 0, sizeof(s->pv_vcpu[0]));
            return 0;
        }
        return xd_pv_set_vcpu_context(&hv, vc->vcpu, vc->ctxt.p);
    }
    case XEN_DOMCTL_set_ext_vcpucontext:
        if ( s->guest_type != XD_TYPE_PV )
            return -ENOSYS;
        return xd_pv_set_ext(&hv, &d->u.ext_vcpucontext);
    case XEN_DOMCTL_get_ext_vcpucontext:
        if ( s->guest_type != XD_TYPE_PV )
            return -ENOSYS;
        return xd_pv_get_ext(&hv, &d->u.ext_vcpucontext);
    case XEN_DOMCTL_setvcpuextstate:
    case XEN_DOMCTL_getvcpuextstate:
    {
        struct xen_domctl_vcpuextstate *x = &d->u.vcpuextstate;
        struct xd_pv_vcpu *v;
        uint64_t size;

        if ( s->guest_type != XD_TYPE_PV )
            return -ENOSYS;
        if ( x->vcpu >= s->max_vcpus )
            return -ESRCH;
        if ( d->cmd == XEN_DOMCTL_setvcpuextstate )
            return xd_pv_set_xsave(&hv, x->vcpu, (const uint8_t *)x->buffer.p, x->size);
        /* arch_do_domctl() XEN_DOMCTL_getvcpuextstate: a size query gets the
         * host maximum; data goes out as xcr0, xcr0_accum, uncompressed area. */
        if ( (!x->size && !x->xfeature_mask) || !x->buffer.p )
        {
            x->xfeature_mask = 0x7;
            x->size = 16 + 576 + 256;
            return 0;
        }
        v = &s->pv_vcpu[x->vcpu];
        size = v->xsave_len ? v->xsave_len : 16;
        if ( x->size < size || x->xfeature_mask != 0x7 )
            return -EINVAL;
        if ( v->xsave_len )
            memcpy(x->buffer.p, v->xsave, size);
        else
            memset(x->buffer.p, 0, 16);
        x->size = size;
        return 0;
    }
    case XEN_DOMCTL_set_vcpu_msrs:
    case XEN_DOMCTL_get_vcpu_msrs:
    {
        struct xen_domctl_vcpu_msrs *m = &d->u.vcpu_msrs;
        struct xd_pv_vcpu *v;
        uint32_t n = 0;

        if ( m->vcpu >= s->max_vcpus )
            return -ESRCH;
        if ( s->guest_type != XD_TYPE_PV )
            return -EINVAL;
        if ( d->cmd == XEN_DOMCTL_set_vcpu_msrs )
            return xd_pv_set_msrs(&hv, m->vcpu, m->msrs.p, &m->msr_count);
        /* Get: a NULL buffer asks for the maximum (msrs_to_send[], 7);
         * otherwise the non-zero ones, -ENOBUFS if they do not fit. */
        if ( !m->msrs.p )
        {
            m->msr_count = 7;
            return 0;
        }
        v = &s->pv_vcpu[m->vcpu];
        for ( uint32_t i = 0; i < v->nr_msrs; i++ )
        {
            if ( !v->msr_value[i] )
                continue;
            if ( n < m->msr_count )
                m->msrs.p[n] = (xen_domctl_vcpu_msr_t){ v->msr_index[i], 0,
                                                        v->msr_value[i] };
            n++;
        }
        if ( n > m->msr_count )
        {
            m->msr_count = n;
            return -ENOBUFS;
        }
        m->msr_count = n;
        return 0;
    }
    case XEN_DOMCTL_set_cpu_policy:
        return set_cpu_policy(s, &d->u.cpu_policy);
    default:
        return -ENOSYS;
    }
}

static long sysctl(struct xen_sysctl *c)
{
    /* do_sysctl() (xen/common/sysctl.c). */
    if ( c->interface_version != XEN_SYSCTL_INTERFACE_VERSION )
        return -EACCES;

    switch ( c->cmd )
    {
    case XEN_SYSCTL_get_cpu_policy:
    {
        struct xen_sysctl_cpu_policy *p = &c->u.cpu_policy;
        struct xen_domctl_cpu_policy d = { 0 };
        long rc;

        if ( p->_rsvd )
            return -EINVAL;
        if ( p->leaves.p || p->msrs.p )
        {
            d.nr_leaves = p->nr_leaves;
            d.nr_msrs = p->nr_msrs;
            d.leaves.p = p->leaves.p;
            d.msrs.p = p->msrs.p;
            /* The host policies are the default domain policy here. */
            if ( !hv.s->exists )
                return -EOPNOTSUPP;
            rc = get_cpu_policy(hv.s, &d);
            p->nr_leaves = d.nr_leaves;
            p->nr_msrs = d.nr_msrs;
            return rc;
        }
        p->nr_leaves = XD_MAX_SERIALISED_LEAVES;
        p->nr_msrs = XD_MAX_SERIALISED_MSRS;
        return 0;
    }
    default:
        return -ENOSYS;
    }
}

static long hvm_op(unsigned long op, void *arg)
{
    struct xen_hvm_param *a = arg;
    struct xd_state *s;

    switch ( op )
    {
    case HVMOP_set_param:
    case HVMOP_get_param:
        /* hvmop_set_param()/hvmop_get_param() (xen/arch/x86/hvm/hvm.c). */
        if ( a->index >= HVM_NR_PARAMS )
            return -EINVAL;
        s = dom(a->domid);
        if ( !s )
            return -ESRCH;
        if ( s->guest_type != XD_TYPE_HVM )
            return -EINVAL;
        if ( op == HVMOP_set_param )
            return xd_set_param(s, a->index, a->value);
        return xd_get_param(s, a->index, &a->value);
    default:
        return -ENOSYS;
    }
}

static long dispatch(unsigned int op, uint64_t a1, uint64_t a2, uint64_t a3,
                     uint64_t a4, uint64_t a5);

static long multicall(multicall_entry_t *calls, unsigned int nr)
{
    for ( unsigned int i = 0; i < nr; i++ )
        calls[i].result = dispatch(calls[i].op, calls[i].args[0],
                                   calls[i].args[1], calls[i].args[2],
                                   calls[i].args[3], calls[i].args[4]);
    return 0;
}

static long grant_table_op(unsigned int cmd, void *arg, unsigned int count)
{
    /* GNTTABOP_setup_table for an HVM domain reports the gfn where its shared
     * frames are mapped (gnttab_setup_table(), xen/common/grant_table.c). */
    struct gnttab_setup_table *t = arg;
    struct xd_state *s;

    if ( cmd != GNTTABOP_setup_table )
        return -ENOSYS;
    if ( count != 1 )
        return -EINVAL;
    s = dom(t->dom);
    if ( !s )
    {
        t->status = GNTST_bad_domain;
        return 0;
    }
    if ( t->nr_frames != 1 || (s->guest_type == XD_TYPE_HVM && !s->gnttab_mapped) )
    {
        t->status = GNTST_general_error;
        return 0;
    }
    /* A PV domain's frame list holds the grant frame's machine frame. */
    t->frame_list.p[0] = s->guest_type == XD_TYPE_PV ? XD_GNTTAB_MFN
                                                     : s->gnttab_gfn;
    t->status = GNTST_okay;
    return 0;
}

/* do_mmuext_op() (xen/arch/x86/mm.c) on behalf of a foreign PV domain:
 * stops at the first failing op, whose error it returns. */
static long mmuext_op(struct mmuext_op *ops, unsigned int count,
                      unsigned int *pdone, unsigned int foreigndom)
{
    struct xd_state *s = dom(foreigndom);
    unsigned int i;
    int rc = 0;

    if ( !s )
        return -ESRCH;
    if ( s->guest_type != XD_TYPE_PV )
        return -EINVAL;
    for ( i = 0; i < count; i++ )
    {
        rc = xd_pv_pin(&hv, ops[i].cmd, ops[i].arg1.mfn);
        if ( rc )
            break;
    }
    if ( pdone )
        *pdone = i;
    return rc;
}

static long dispatch(unsigned int op, uint64_t a1, uint64_t a2, uint64_t a3,
                     uint64_t a4, uint64_t a5)
{
    (void)a5;
    switch ( op )
    {
    case __HYPERVISOR_grant_table_op:
        return grant_table_op(a1, (void *)(uintptr_t)a2, a3);
    case __HYPERVISOR_domctl:
        return domctl((struct xen_domctl *)(uintptr_t)a1);
    case __HYPERVISOR_sysctl:
        return sysctl((struct xen_sysctl *)(uintptr_t)a1);
    case __HYPERVISOR_memory_op:
        return memory_op(a1, (void *)(uintptr_t)a2);
    case __HYPERVISOR_hvm_op:
        return hvm_op(a1, (void *)(uintptr_t)a2);
    case __HYPERVISOR_mmuext_op:
        return mmuext_op((struct mmuext_op *)(uintptr_t)a1, a2,
                         (unsigned int *)(uintptr_t)a3, a4);
    case __HYPERVISOR_multicall:
        return multicall((multicall_entry_t *)(uintptr_t)a1, a2);
    case __HYPERVISOR_xen_version:
        switch ( a1 )
        {
        case XENVER_version:
            return XD_XEN_VERSION;
        case XENVER_extraversion:
            if ( a2 )
                snprintf((char *)(uintptr_t)a2, XEN_EXTRAVERSION_LEN, ".7");
            return 0;
        case XENVER_get_features:
            if ( a2 )
            {
                xen_feature_info_t *fi = (void *)(uintptr_t)a2;
                fi->submap = 0;
            }
            return 0;
        case XENVER_pagesize:
            return XD_PAGE;
        default:
            return -ENOSYS;
        }
    default:
        return -ENOSYS;
    }
}

long xd_hypercall(unsigned int op, uint64_t a1, uint64_t a2, uint64_t a3,
                  uint64_t a4, uint64_t a5)
{
    long rc;

    static int trace = -1;

    if ( trace < 0 )
        trace = getenv("XEN_DOUBLE_TRACE") != NULL;
    xd_lock(&hv);
    rc = dispatch(op, a1, a2, a3, a4, a5);
    xd_unlock(&hv);
    if ( trace )
    {
        /* Trace: op, first argument (domctl/sysctl: the command), result. */
        uint64_t sub = a1;
        if ( op == __HYPERVISOR_domctl || op == __HYPERVISOR_sysctl )
            sub = *(uint32_t *)(uintptr_t)a1;
        else if ( op == __HYPERVISOR_multicall )
            sub = ((multicall_entry_t *)(uintptr_t)a1)->args[0];
        fprintf(stderr, "xen-double: hypercall %u/%lu -> %ld\n", op,
                (unsigned long)sub, rc);
        if ( op == __HYPERVISOR_domctl &&
             *(uint32_t *)(uintptr_t)a1 == XEN_DOMCTL_get_cpu_policy )
        {
            struct xen_domctl *d = (void *)(uintptr_t)a1;
            fprintf(stderr, "xen-double:   cpu policy nr_leaves %u nr_msrs %u\n",
                    d->u.cpu_policy.nr_leaves, d->u.cpu_policy.nr_msrs);
        }
    }
    return rc;
}
