/*
 * xen-double: shared state of the one-domain hypervisor double.
 *
 * The state lives in $XEN_DOUBLE_DIR: "state" (this struct, mmapped MAP_SHARED)
 * and "ram" (sparse, guest pfn N at offset N*4096).  Every process that maps
 * the state (the fake libxencall, the fake libxenforeignmemory, the driver)
 * takes flock() on the state file around each operation.
 */
#ifndef XEN_DOUBLE_H
#define XEN_DOUBLE_H

#include <stdint.h>
#include <stddef.h>

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <xen/xen.h>
#include <xen/hvm/params.h>

#define XD_MAGIC        0x3130424c44444e58ULL /* "XNDDLB01" */
#define XD_PAGE         4096UL
#define XD_MAX_PFNS     0x100000UL            /* 4 GiB of guest-physical space */
#define XD_CTX_MAX      65536
#define XD_MAX_LEAVES   256
#define XD_MAX_MSRS     16

#define XD_TYPE_HVM     1
#define XD_TYPE_PV      2

/*
 * PV machine frames.  A PV guest sees machine frame numbers: pfn N of the
 * domain is machine frame N + XD_MFN_BASE (so a pfn used where an mfn belongs
 * names a frame the domain does not own).  max_page (XENMEM_maximum_ram_page)
 * is XD_MAX_PAGE; the M2P table is XD_M2P_CHUNKS 2 MiB chunks of DOMID_XEN
 * frames from XD_M2P_MFN (file "m2p", 8 octets per mfn); the shared info page
 * and grant frame 0 are Xen pages shared with the domain.
 */
#define XD_MFN_BASE     0x100000UL
#define XD_MAX_PAGE     (XD_MFN_BASE + XD_MAX_PFNS)
#define XD_M2P_MFN      0x1000UL
#define XD_M2P_CHUNKS   ((XD_MAX_PAGE * 8 + (2UL << 20) - 1) / (2UL << 20))
#define XD_M2P_FRAMES   (XD_M2P_CHUNKS * 512)
#define XD_SHINFO_MFN   0x3000UL
#define XD_GNTTAB_MFN   0x3001UL
#define XD_IDLE_L4_MFN  0x3100UL  /* Xen's own L3s behind its L4 slots */
#define XD_PERDOMAIN_MFN 0x3200UL
#define XD_MAX_VCPUS    64
#define XD_MAX_VMSRS    8
#define XD_PV_XSAVE_MAX (16 + 576 + 256)

/* Page types (Xen's PGT_* as the double keeps them). */
#define XD_PGT_NONE      0
#define XD_PGT_L1        1
#define XD_PGT_L2        2
#define XD_PGT_L3        3
#define XD_PGT_L4        4
#define XD_PGT_SEG_DESC  6
#define XD_PGT_WRITABLE  7

struct xd_page {
    uint8_t type;      /* XD_PGT_* */
    uint8_t pinned;
    uint8_t validated;
    uint8_t _pad;
    uint32_t count;    /* type references */
};

struct xd_pv_vcpu {
    uint32_t up;                    /* has a context (not VPF_down) */
    uint32_t initialised;
    struct vcpu_guest_context ctx;  /* as arch_get_info_guest would return it */
    uint8_t ext[128];               /* struct xen_domctl_ext_vcpucontext */
    uint32_t xsave_len, nr_msrs;    /* xsave: xcr0, xcr0_accum, area */
    uint8_t xsave[XD_PV_XSAVE_MAX];
    uint32_t msr_index[XD_MAX_VMSRS];
    uint64_t msr_value[XD_MAX_VMSRS];
};

struct xd_state {
    uint64_t magic;
    uint32_t exists;
    uint32_t domid;
    uint32_t guest_type;
    uint32_t max_vcpus;
    uint64_t max_pages;
    uint64_t tot_pages;
    uint64_t ram_pfns;            /* size of the ram file in pages */
    uint32_t shutdown, shutdown_reason;
    uint32_t paused;
    uint32_t logdirty;
    uint64_t dirty_count;         /* pages dirtied since the last CLEAN */
    uint64_t fault_count;
    uint64_t seed;
    uint64_t generation;          /* bumped each time the "guest" dirties pages */
    uint64_t params[HVM_NR_PARAMS];
    uint32_t tsc_mode, tsc_khz, tsc_incarnation, _pad0;
    uint64_t tsc_nsec;
    uint32_t nr_leaves, nr_msrs;
    xen_cpuid_leaf_t leaves[XD_MAX_LEAVES];
    xen_msr_entry_t msrs[XD_MAX_MSRS];
    uint32_t gnttab_mapped, _pad2; /* grant frame 0 added to the physmap ... */
    uint64_t gnttab_gfn;           /* ... at this gfn (compat seeding path) */
    uint32_t hvm_ctx_len, _pad1;
    uint8_t hvm_ctx[XD_CTX_MAX];
    uint32_t guest_width, _pad3;   /* PV: 8 (64-bit) */
    uint64_t vm_assist;
    struct xd_pv_vcpu pv_vcpu[XD_MAX_VCPUS];
    struct xd_page page[XD_MAX_PFNS];  /* PV: by pfn (mfn - XD_MFN_BASE) */
    uint64_t populated[XD_MAX_PFNS / 64];
    uint64_t dirty[XD_MAX_PFNS / 64];
    uint8_t gnttab[XD_PAGE] __attribute__((aligned(4096)));  /* grant table frame 0 */
    uint8_t shinfo[XD_PAGE] __attribute__((aligned(4096)));  /* PV shared info */
} __attribute__((aligned(4096)));

struct xd {
    int statefd, ramfd, m2pfd;
    struct xd_state *s;
    char dir[512];
};

/* Open (and with create, initialise) the state in dir ($XEN_DOUBLE_DIR when NULL). */
int xd_open(struct xd *xd, const char *dir, int create);
void xd_close(struct xd *xd);
void xd_lock(struct xd *xd);
void xd_lock_shared(struct xd *xd);
void xd_unlock(struct xd *xd);
/* Grow the ram file so it covers pfn. 0 or -errno. */
int xd_ram_cover(struct xd *xd, uint64_t pfn);

static inline int xd_test(const uint64_t *bm, uint64_t pfn)
{
    return pfn < XD_MAX_PFNS && ((bm[pfn / 64] >> (pfn % 64)) & 1);
}
static inline void xd_set(uint64_t *bm, uint64_t pfn)
{
    bm[pfn / 64] |= 1ULL << (pfn % 64);
}
static inline void xd_clear(uint64_t *bm, uint64_t pfn)
{
    bm[pfn / 64] &= ~(1ULL << (pfn % 64));
}

/* PV p2m and m2p: INVALID_MFN / ~0 when there is none. */
static inline uint64_t xd_pfn_to_mfn(const struct xd_state *s, uint64_t pfn)
{
    return xd_test(s->populated, pfn) ? pfn + XD_MFN_BASE : ~0ULL;
}
static inline uint64_t xd_mfn_to_pfn(const struct xd_state *s, uint64_t mfn)
{
    if ( mfn < XD_MFN_BASE || mfn >= XD_MAX_PAGE ||
         !xd_test(s->populated, mfn - XD_MFN_BASE) )
        return ~0ULL;
    return mfn - XD_MFN_BASE;
}
/* Record m2p[mfn] = pfn (~0 for a freed frame) in the M2P file. */
void xd_set_m2p(struct xd *xd, uint64_t mfn, uint64_t pfn);

/* PV (pv.c).  Return 0 or a negative Xen errno. */
int xd_pv_pin(struct xd *xd, unsigned int cmd, uint64_t mfn);
int xd_pv_get_type(struct xd *xd, uint64_t pfn, unsigned int type);
int xd_pv_set_vcpu_context(struct xd *xd, unsigned int vcpu,
                           const struct vcpu_guest_context *c);
int xd_pv_set_ext(struct xd *xd, const void *evc);
int xd_pv_get_ext(struct xd *xd, void *evc);
int xd_pv_set_xsave(struct xd *xd, unsigned int vcpu, const uint8_t *buf,
                    uint64_t size);
int xd_pv_set_msrs(struct xd *xd, unsigned int vcpu, const void *msrs,
                   uint32_t *count);
void xd_pv_normalise(const struct xd_state *s, unsigned int type,
                     uint64_t *table);

/* Highest mapped pfn (populated, or the grant frame), 0 when none (as Xen's
 * p2m max_mapped_pfn). */
uint64_t xd_max_pfn(const struct xd_state *s);

/* The hypervisor double's entry point (xencall.c). */
long xd_hypercall(unsigned int op, uint64_t a1, uint64_t a2, uint64_t a3,
                  uint64_t a4, uint64_t a5);

/* Checks that model Xen 4.17 (checks.c).  Return 0 or a negative Xen errno. */
int xd_check_hvm_context(const struct xd_state *s, const uint8_t *buf,
                         uint32_t len);
int xd_set_param(struct xd_state *s, uint32_t index, uint64_t value);
int xd_get_param(const struct xd_state *s, uint32_t index, uint64_t *value);
int xd_check_cpu_policy(const xen_cpuid_leaf_t *leaves, uint32_t nr_leaves,
                        const xen_msr_entry_t *msrs, uint32_t nr_msrs,
                        uint32_t *err_leaf, uint32_t *err_subleaf,
                        uint32_t *err_msr);

/* Xen 4.17's serialised policy limits (xen/include/xen/lib/x86/cpu-policy.h). */
#define XD_NR_BASIC   (0xdu + 1)
#define XD_NR_CACHE   (5u + 1)
#define XD_NR_FEAT    (2u + 1)
#define XD_NR_TOPO    (1u + 1)
#define XD_NR_XSTATE  (62u + 1)
#define XD_NR_EXTD    (0x21u + 1)
#define XD_MAX_SERIALISED_LEAVES \
    (XD_NR_BASIC + XD_NR_FEAT - 1 + XD_NR_CACHE - 1 + XD_NR_TOPO - 1 + \
     XD_NR_XSTATE - 1 + XD_NR_EXTD + 2)
#define XD_MAX_SERIALISED_MSRS 2

/* One line of the hypervisor's log, as Xen prints it ("(XEN) ..."), on stderr. */
void xenlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
