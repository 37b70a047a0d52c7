/*
 * xen-double: a stand-in for Debian's libxenforeignmemory.so.1.  Mapping a
 * guest frame maps that page of the double's RAM file (MAP_SHARED), so what
 * libxc reads or writes through the mapping is the domain's memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "double.h"

#include <xen/memory.h>

struct xentoollog_logger;
typedef struct xenforeignmemory_handle {
    struct xd xd;
} xenforeignmemory_handle;

typedef struct xenforeignmemory_resource_handle {
    void *addr;
    unsigned long nr_frames;
} xenforeignmemory_resource_handle;

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    xenforeignmemory_handle *h = calloc(1, sizeof(*h));

    (void)logger; (void)open_flags;
    if ( !h )
        return NULL;
    if ( xd_open(&h->xd, NULL, 0) )
    {
        int e = errno;
        fprintf(stderr, "xen-double: no domain state in $XEN_DOUBLE_DIR: %s\n",
                strerror(e));
        free(h);
        errno = e;
        return NULL;
    }
    return h;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    if ( !fmem )
        return 0;
    xd_close(&fmem->xd);
    free(fmem);
    return 0;
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    (void)fmem; (void)domid;
    return 0;
}

/*
 * A PV domain's frames are machine frames: its RAM (mfn - XD_MFN_BASE is the
 * pfn, its page in the ram file), the shared info and grant frames; DOMID_XEN
 * offers the M2P table's frames, read-only.  Under a PV dom0 each frame goes
 * through mod_l1_entry() -> get_page_from_l1e() (xen/arch/x86/mm.c): a frame
 * the domain does not own fails with -EINVAL, and a writable mapping of a
 * page that is a page table (type count > 0) fails its PGT_writable_page type
 * reference with -EINVAL.
 */
static void *map_pv(xenforeignmemory_handle *fmem, uint32_t dom, uint8_t *base,
                    int prot, size_t pages, const xen_pfn_t arr[], int err[])
{
    struct xd_state *s = fmem->xd.s;

    for ( size_t i = 0; i < pages; i++ )
    {
        xen_pfn_t mfn = arr[i];
        int fd = -1;
        off_t off = 0;

        err[i] = -EINVAL;
        if ( dom == DOMID_XEN )
        {
            if ( mfn >= XD_M2P_MFN && mfn < XD_M2P_MFN + XD_M2P_FRAMES &&
                 !(prot & PROT_WRITE) )
            {
                fd = fmem->xd.m2pfd;
                off = (off_t)(mfn - XD_M2P_MFN) * XD_PAGE;
            }
        }
        else if ( mfn == XD_SHINFO_MFN )
        {
            fd = fmem->xd.statefd;
            off = offsetof(struct xd_state, shinfo);
        }
        else if ( mfn == XD_GNTTAB_MFN )
        {
            fd = fmem->xd.statefd;
            off = offsetof(struct xd_state, gnttab);
        }
        else
        {
            uint64_t pfn = xd_mfn_to_pfn(s, mfn);

            if ( pfn != ~0ULL && pfn < s->ram_pfns )
            {
                const struct xd_page *pg = &s->page[pfn];

                if ( (prot & PROT_WRITE) && pg->count &&
                     pg->type >= XD_PGT_L1 && pg->type <= XD_PGT_L4 )
                {
                    fprintf(stderr, "(XEN) d%u: Bad type (saw %u != exp %u) "
                            "for mfn %lx (pfn %lx): a writable mapping of a "
                            "page table\n", s->domid, pg->type, XD_PGT_WRITABLE,
                            (unsigned long)mfn, (unsigned long)pfn);
                    continue;
                }
                fd = fmem->xd.ramfd;
                off = (off_t)pfn * XD_PAGE;
            }
        }
        if ( fd < 0 )
            continue;
        if ( mmap(base + i * XD_PAGE, XD_PAGE, prot, MAP_SHARED | MAP_FIXED,
                  fd, off) == MAP_FAILED )
            return NULL;
        err[i] = 0;
    }
    return base;
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom,
                            void *addr, int prot, int flags, size_t pages,
                            const xen_pfn_t arr[], int err[])
{
    struct xd_state *s = fmem->xd.s;
    uint8_t *base;
    size_t i, j;
    int any = 0;

    if ( !pages )
    {
        errno = EINVAL;
        return NULL;
    }
    /* Reserve the whole range, then map populated runs over it. */
    base = mmap(addr, pages * XD_PAGE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | (addr ? flags : 0), -1, 0);
    if ( base == MAP_FAILED )
        return NULL;

    xd_lock_shared(&fmem->xd);
    if ( dom == DOMID_XEN || (s->exists && s->domid == dom &&
                              s->guest_type == XD_TYPE_PV) )
    {
        void *r = map_pv(fmem, dom, base, prot, pages, arr, err);
        xd_unlock(&fmem->xd);
        if ( !r )
        {
            int e = errno;
            munmap(base, pages * XD_PAGE);
            errno = e;
        }
        return r;
    }
    if ( !s->exists || s->domid != dom )
    {
        xd_unlock(&fmem->xd);
        munmap(base, pages * XD_PAGE);
        errno = ESRCH;
        return NULL;
    }
    for ( i = 0; i < pages; i = j )
    {
        /* The grant frame while it sits in the physmap (compat seeding). */
        if ( s->gnttab_mapped && arr[i] == s->gnttab_gfn )
        {
            j = i + 1;
            err[i] = 0;
            if ( mmap(base + i * XD_PAGE, XD_PAGE, prot, MAP_SHARED | MAP_FIXED,
                      fmem->xd.statefd, offsetof(struct xd_state, gnttab))
                 == MAP_FAILED )
            {
                int e = errno;
                xd_unlock(&fmem->xd);
                munmap(base, pages * XD_PAGE);
                errno = e;
                return NULL;
            }
            continue;
        }
        /* An unpopulated gfn: mod_l1_entry() (xen/arch/x86/mm.c), under
         * a PV dom0's privcmd batch, finds no page through get_page_from_gfn()
         * and fails that frame with -EINVAL. */
        if ( arr[i] >= s->ram_pfns || !xd_test(s->populated, arr[i]) )
        {
            err[i] = -EINVAL;
            any = 1;
            j = i + 1;
            continue;
        }
        err[i] = 0;
        /* Coalesce a run of consecutive populated gfns into one mmap. */
        for ( j = i + 1; j < pages && arr[j] == arr[i] + (j - i) &&
                         arr[j] < s->ram_pfns && xd_test(s->populated, arr[j]); j++ )
            err[j] = 0;
        if ( mmap(base + i * XD_PAGE, (j - i) * XD_PAGE, prot,
                  MAP_SHARED | MAP_FIXED, fmem->xd.ramfd,
                  (off_t)arr[i] * XD_PAGE) == MAP_FAILED )
        {
            int e = errno;
            xd_unlock(&fmem->xd);
            munmap(base, pages * XD_PAGE);
            errno = e;
            return NULL;
        }
    }
    xd_unlock(&fmem->xd);
    (void)any;
    return base;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
                           int prot, size_t pages, const xen_pfn_t arr[],
                           int err[])
{
    int *tmp = NULL;
    void *p;

    if ( !err )
    {
        /* Without an error array any failure fails the whole map (as Linux). */
        tmp = calloc(pages ? pages : 1, sizeof(int));
        if ( !tmp )
            return NULL;
        err = tmp;
    }
    p = xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
    if ( p && tmp )
    {
        for ( size_t i = 0; i < pages; i++ )
            if ( tmp[i] )
            {
                munmap(p, pages * XD_PAGE);
                errno = -tmp[i];
                p = NULL;
                break;
            }
    }
    free(tmp);
    return p;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
                           size_t pages)
{
    (void)fmem;
    return munmap(addr, pages * XD_PAGE);
}

/* Only the shared grant-table frame 0 is offered as a resource. */
xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
    xenforeignmemory_handle *fmem, domid_t domid, unsigned int type,
    unsigned int id, unsigned long frame, unsigned long nr_frames,
    void **paddr, int prot, int flags)
{
    xenforeignmemory_resource_handle *r;
    void *p;

    /* XEN_DOUBLE_NO_RESOURCE: behave like a kernel without
     * IOCTL_PRIVCMD_MMAP_RESOURCE, so libxc takes its compat path. */
    const char *nores = getenv("XEN_DOUBLE_NO_RESOURCE");

    if ( nores && *nores )
    {
        errno = EOPNOTSUPP;
        return NULL;
    }
    if ( type != XENMEM_resource_grant_table ||
         id != XENMEM_resource_grant_table_id_shared || frame != 0 ||
         nr_frames != 1 )
    {
        errno = EOPNOTSUPP;
        return NULL;
    }
    if ( !fmem->xd.s->exists || fmem->xd.s->domid != domid )
    {
        errno = ESRCH;
        return NULL;
    }
    p = mmap(*paddr, XD_PAGE, prot, MAP_SHARED | flags, fmem->xd.statefd,
             offsetof(struct xd_state, gnttab));
    if ( p == MAP_FAILED )
        return NULL;
    r = calloc(1, sizeof(*r));
    if ( !r )
    {
        munmap(p, XD_PAGE);
        return NULL;
    }
    r->addr = p;
    r->nr_frames = 1;
    *paddr = p;
    return r;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    (void)fmem;
    if ( !fres )
        return 0;
    munmap(fres->addr, fres->nr_frames * XD_PAGE);
    free(fres);
    return 0;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem,
                                   domid_t domid, unsigned int type,
                                   unsigned int id, size_t *size)
{
    (void)fmem; (void)domid; (void)id;
    if ( type != XENMEM_resource_grant_table )
    {
        errno = EOPNOTSUPP;
        return -1;
    }
    *size = XD_PAGE;
    return 0;
}
