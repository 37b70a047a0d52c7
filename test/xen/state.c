/* xen-double: opening, locking and growing the shared domain state. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "double.h"

int xd_open(struct xd *xd, const char *dir, int create)
{
    char path[600];
    struct stat st;

    memset(xd, 0, sizeof(*xd));
    xd->statefd = xd->ramfd = xd->m2pfd = -1;
    if ( !dir )
        dir = getenv("XEN_DOUBLE_DIR");
    if ( !dir || !*dir )
    {
        errno = ENOENT;
        return -1;
    }
    snprintf(xd->dir, sizeof(xd->dir), "%s", dir);

    snprintf(path, sizeof(path), "%s/state", dir);
    xd->statefd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if ( xd->statefd < 0 )
        return -1;
    snprintf(path, sizeof(path), "%s/ram", dir);
    xd->ramfd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if ( xd->ramfd < 0 )
        goto fail;
    snprintf(path, sizeof(path), "%s/m2p", dir);
    xd->m2pfd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if ( xd->m2pfd < 0 )
        goto fail;

    if ( create )
    {
        flock(xd->statefd, LOCK_EX);
        if ( ftruncate(xd->statefd, 0) || ftruncate(xd->ramfd, 0) ||
             ftruncate(xd->statefd, sizeof(struct xd_state)) )
        {
            flock(xd->statefd, LOCK_UN);
            goto fail;
        }
        /* The M2P: every entry INVALID_M2P_ENTRY (~0) until a frame is given
         * to the domain. */
        {
            static uint8_t ones[1 << 20];
            memset(ones, 0xff, sizeof(ones));
            if ( ftruncate(xd->m2pfd, 0) )
            {
                flock(xd->statefd, LOCK_UN);
                goto fail;
            }
            for ( off_t o = 0; o < (off_t)(XD_M2P_FRAMES * XD_PAGE); o += sizeof(ones) )
                if ( pwrite(xd->m2pfd, ones, sizeof(ones), o) != sizeof(ones) )
                {
                    flock(xd->statefd, LOCK_UN);
                    goto fail;
                }
        }
    }
    else if ( fstat(xd->statefd, &st) || st.st_size != sizeof(struct xd_state) )
    {
        errno = EINVAL;
        goto fail;
    }

    xd->s = mmap(NULL, sizeof(struct xd_state), PROT_READ | PROT_WRITE,
                 MAP_SHARED, xd->statefd, 0);
    if ( xd->s == MAP_FAILED )
    {
        xd->s = NULL;
        goto fail;
    }
    if ( create )
    {
        xd->s->magic = XD_MAGIC;
        flock(xd->statefd, LOCK_UN);
    }
    else if ( xd->s->magic != XD_MAGIC )
    {
        errno = EINVAL;
        goto fail;
    }
    return 0;

 fail:
    {
        int e = errno;
        xd_close(xd);
        errno = e;
    }
    return -1;
}

void xd_close(struct xd *xd)
{
    if ( xd->s )
        munmap(xd->s, sizeof(struct xd_state));
    if ( xd->statefd >= 0 )
        close(xd->statefd);
    if ( xd->ramfd >= 0 )
        close(xd->ramfd);
    if ( xd->m2pfd >= 0 )
        close(xd->m2pfd);
    xd->s = NULL;
    xd->statefd = xd->ramfd = xd->m2pfd = -1;
}

void xd_lock(struct xd *xd)
{
    while ( flock(xd->statefd, LOCK_EX) && errno == EINTR )
        ;
}

void xd_lock_shared(struct xd *xd)
{
    while ( flock(xd->statefd, LOCK_SH) && errno == EINTR )
        ;
}

void xd_unlock(struct xd *xd)
{
    flock(xd->statefd, LOCK_UN);
}

int xd_ram_cover(struct xd *xd, uint64_t pfn)
{
    if ( pfn >= XD_MAX_PFNS )
        return -EINVAL;
    if ( pfn < xd->s->ram_pfns )
        return 0;
    if ( ftruncate(xd->ramfd, (off_t)(pfn + 1) * XD_PAGE) )
        return -errno;
    xd->s->ram_pfns = pfn + 1;
    return 0;
}

uint64_t xd_max_pfn(const struct xd_state *s)
{
    uint64_t max = 0;

    for ( uint64_t w = XD_MAX_PFNS / 64; w-- > 0; )
        if ( s->populated[w] )
        {
            max = w * 64 + 63 - __builtin_clzll(s->populated[w]);
            break;
        }
    if ( s->gnttab_mapped && s->gnttab_gfn > max )
        max = s->gnttab_gfn;
    return max;
}

void xd_set_m2p(struct xd *xd, uint64_t mfn, uint64_t pfn)
{
    if ( mfn < XD_MAX_PAGE &&
         pwrite(xd->m2pfd, &pfn, sizeof(pfn), (off_t)mfn * 8) != sizeof(pfn) )
        fprintf(stderr, "xen-double: writing the M2P: %s\n", strerror(errno));
}

void xenlog(const char *fmt, ...)
{
    va_list ap;

    fputs("(XEN) ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
