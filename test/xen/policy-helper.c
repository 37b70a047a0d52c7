/*
 * policy-helper: Xen's own CPU policy code (Debian's libxenguest 4.17), driven line by
 * line from stdin, with no hypervisor (XC_OPENFLAG_DUMMY).  Each request is one line,
 * each answer one line.  A policy is two hex strings: the X86_CPUID_POLICY body
 * (xen_cpuid_leaf_t entries) and the X86_MSR_POLICY body (xen_msr_entry_t entries),
 * "-" for none.
 *
 *   ser C M        load (xc_cpu_policy_update_cpuid/_msrs into a fresh policy), then
 *                  xc_cpu_policy_serialise:
 *                  "ok CPUID MSRS" | "refused cpuid|msr RC LEAF SUBLEAF|MSR"
 *   compat HC HM GC GM
 *                  load host and guest, xc_cpu_policy_is_compatible:
 *                  "host-refused" | "guest-refused" | "compatible" | "incompatible"
 *   deps C M       load, then Xen's deep-dependency rules on its featureset
 *                  (x86_cpu_policy_to_featureset, x86_cpu_policy_lookup_deep_deps),
 *                  after x86_cpu_policy_clear_out_of_range_leaves:
 *                  "ok" | "refused" | "bad F D ..." (F absent but its dependant D set;
 *                  F=XSAVE-LEAF for XSAVE with max leaf < 0xd; "stale" when clearing
 *                  out-of-range leaves changed the policy)
 *   deepdeps F     x86_cpu_policy_lookup_deep_deps(F): "none" | hex words
 *
 * The x86_* functions take Xen's struct cpu_policy, which is the first member of
 * libxc's struct xc_cpu_policy (tools/libs/guest/xg_private.h), so a policy handle is
 * passed to them as it is.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xenguest.h>

/* Exported by libxenguest 4.17 (xen/lib/x86), not declared in its installed headers. */
const uint32_t *x86_cpu_policy_lookup_deep_deps(uint32_t feature);
void x86_cpu_policy_to_featureset(const void *p, uint32_t *fs);
void x86_cpu_policy_clear_out_of_range_leaves(void *p);

#define FS_WORDS 64           /* more than any Xen's FEATURESET_NR_ENTRIES */
#define MAX_LEAVES 4096
#define MAX_MSRS 64
#define X86_FEATURE_XSAVE (1 * 32 + 26)

static xc_interface *xch;
static unsigned int fs_nr; /* FEATURESET_NR_ENTRIES of this libxenguest */

static int unhex(const char *s, uint8_t *out, size_t max, size_t *len)
{
    size_t n = strlen(s), i;

    *len = 0;
    if ( strcmp(s, "-") == 0 )
        return 0;
    if ( n % 2 || n / 2 > max )
        return -1;
    for ( i = 0; i < n / 2; i++ )
    {
        unsigned int v;

        if ( sscanf(s + 2 * i, "%2x", &v) != 1 )
            return -1;
        out[i] = v;
    }
    *len = n / 2;
    return 0;
}

static void puthex(const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;

    if ( n == 0 )
        fputc('-', stdout);
    for ( i = 0; i < n; i++ )
        printf("%02x", b[i]);
}

static xen_cpuid_leaf_t leaves[MAX_LEAVES];
static xen_msr_entry_t msrs[MAX_MSRS];

/* 0 loaded; 1 cpuid refused; 2 msr refused; -1 bad request. */
static int load(xc_cpu_policy_t *p, const char *c, const char *m, int *rc_out)
{
    size_t lc, lm;

    if ( unhex(c, (uint8_t *)leaves, sizeof(leaves), &lc) ||
         unhex(m, (uint8_t *)msrs, sizeof(msrs), &lm) ||
         lc % sizeof(xen_cpuid_leaf_t) || lm % sizeof(xen_msr_entry_t) )
        return -1;
    if ( lc && xc_cpu_policy_update_cpuid(xch, p, leaves, lc / sizeof(*leaves)) )
    {
        *rc_out = errno;
        return 1;
    }
    if ( lm && xc_cpu_policy_update_msrs(xch, p, msrs, lm / sizeof(*msrs)) )
    {
        *rc_out = errno;
        return 2;
    }
    return 0;
}

static int serialise(xc_cpu_policy_t *p, uint32_t *nl, uint32_t *nm)
{
    *nl = MAX_LEAVES;
    *nm = MAX_MSRS;
    return xc_cpu_policy_serialise(xch, p, leaves, nl, msrs, nm);
}

static void do_ser(char **arg)
{
    xc_cpu_policy_t *p = xc_cpu_policy_init();
    uint32_t nl, nm;
    int rc = 0, r = load(p, arg[0], arg[1], &rc);

    if ( r < 0 )
        puts("error bad request");
    else if ( r > 0 )
        printf("refused %s %d\n", r == 1 ? "cpuid" : "msr", rc);
    else if ( serialise(p, &nl, &nm) )
        printf("error serialise %d\n", errno);
    else
    {
        fputs("ok ", stdout);
        puthex(leaves, nl * sizeof(*leaves));
        fputc(' ', stdout);
        puthex(msrs, nm * sizeof(*msrs));
        fputc('\n', stdout);
    }
    xc_cpu_policy_destroy(p);
}

static void do_compat(char **arg)
{
    xc_cpu_policy_t *h = xc_cpu_policy_init(), *g = xc_cpu_policy_init();
    int rc = 0, rh = load(h, arg[0], arg[1], &rc), rg = rh ? 0 : load(g, arg[2], arg[3], &rc);

    if ( rh < 0 || rg < 0 )
        puts("error bad request");
    else if ( rh )
        puts("host-refused");
    else if ( rg )
        puts("guest-refused");
    else
        puts(xc_cpu_policy_is_compatible(xch, h, g) ? "compatible" : "incompatible");
    xc_cpu_policy_destroy(h);
    xc_cpu_policy_destroy(g);
}

static bool test_bit(const uint32_t *fs, unsigned int b)
{
    return fs[b / 32] & (1u << (b % 32));
}

static void do_deps(char **arg)
{
    static xen_cpuid_leaf_t before[MAX_LEAVES];
    static xen_msr_entry_t before_m[MAX_MSRS];
    xc_cpu_policy_t *p = xc_cpu_policy_init();
    uint32_t fs[FS_WORDS] = {}, nl, nm, nl2, nm2;
    int rc = 0, r = load(p, arg[0], arg[1], &rc);
    unsigned int f, w, b, max_leaf;
    bool bad = false;

    if ( r )
    {
        puts(r < 0 ? "error bad request" : "refused");
        goto out;
    }
    serialise(p, &nl, &nm);
    memcpy(before, leaves, nl * sizeof(*leaves));
    memcpy(before_m, msrs, nm * sizeof(*msrs));
    max_leaf = leaves[0].a;
    x86_cpu_policy_clear_out_of_range_leaves(p);
    serialise(p, &nl2, &nm2);
    if ( nl != nl2 || memcmp(before, leaves, nl * sizeof(*leaves)) )
    {
        fputs("bad stale", stdout);
        bad = true;
    }

    x86_cpu_policy_to_featureset(p, fs);
    if ( max_leaf < 0xd && test_bit(fs, X86_FEATURE_XSAVE) )
    {
        fputs(bad ? " " : "bad ", stdout);
        fputs("XSAVE-LEAF", stdout);
        bad = true;
    }
    for ( f = 0; f < fs_nr * 32; f++ )
    {
        const uint32_t *dfs;

        if ( test_bit(fs, f) || !(dfs = x86_cpu_policy_lookup_deep_deps(f)) )
            continue;
        for ( w = 0; w < fs_nr; w++ )
            for ( b = 0; b < 32; b++ )
                if ( (dfs[w] & fs[w]) & (1u << b) )
                {
                    printf("%s%u %u", bad ? " " : "bad ", f, w * 32 + b);
                    bad = true;
                }
    }
    puts(bad ? "" : "ok");
 out:
    xc_cpu_policy_destroy(p);
}

static void do_deepdeps(char **arg)
{
    const uint32_t *dfs = x86_cpu_policy_lookup_deep_deps(strtoul(arg[0], NULL, 0));
    unsigned int w;

    if ( !dfs )
    {
        puts("none");
        return;
    }
    for ( w = 0; w < fs_nr; w++ )
        printf("%s%08x", w ? " " : "", dfs[w]);
    fputc('\n', stdout);
}

int main(void)
{
    static char line[1 << 17];
    xentoollog_logger *quiet =
        (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_NONE + 100, 0);

    xch = xc_interface_open(quiet, quiet, XC_OPENFLAG_DUMMY);
    if ( !xch )
    {
        fprintf(stderr, "policy-helper: xc_interface_open failed\n");
        return 1;
    }
    fs_nr = xc_get_cpu_featureset_size();
    if ( fs_nr == 0 || fs_nr > FS_WORDS )
    {
        fprintf(stderr, "policy-helper: featureset size %u\n", fs_nr);
        return 1;
    }
    printf("ready %u\n", fs_nr);
    fflush(stdout);

    while ( fgets(line, sizeof(line), stdin) )
    {
        char *arg[8] = {}, *cmd = strtok(line, " \n");
        unsigned int n = 0;

        while ( n < 8 && (arg[n] = strtok(NULL, " \n")) )
            n++;
        if ( !cmd )
            continue;
        if ( !strcmp(cmd, "ser") && n == 2 )
            do_ser(arg);
        else if ( !strcmp(cmd, "compat") && n == 4 )
            do_compat(arg);
        else if ( !strcmp(cmd, "deps") && n == 2 )
            do_deps(arg);
        else if ( !strcmp(cmd, "deepdeps") && n == 1 )
            do_deepdeps(arg);
        else
            puts("error unknown request");
        fflush(stdout);
    }
    xc_interface_close(xch);
    return 0;
}
