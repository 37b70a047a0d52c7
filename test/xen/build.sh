#!/bin/sh
# Build the Xen hypervisor double: OUTDIR/lib/libxencall.so.1,
# OUTDIR/lib/libxenforeignmemory.so.1 (Debian's sonames and symbol versions)
# and OUTDIR/xen-double (linked against the real libxenguest/libxenctrl).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")" && pwd)
OUT=$1
mkdir -p "$OUT/lib"
CC=${CC:-gcc}
CFLAGS="-O2 -Wall -Werror -D__XEN_TOOLS__ -D_GNU_SOURCE -I$SRC"

$CC $CFLAGS -fPIC -shared -Wl,-soname,libxencall.so.1 \
    -Wl,--version-script="$SRC/xencall.map" \
    -o "$OUT/lib/libxencall.so.1" "$SRC/xencall.c" "$SRC/checks.c" "$SRC/pv.c" "$SRC/state.c"
$CC $CFLAGS -fPIC -shared -Wl,-soname,libxenforeignmemory.so.1 \
    -Wl,--version-script="$SRC/foreignmemory.map" \
    -o "$OUT/lib/libxenforeignmemory.so.1" "$SRC/foreignmemory.c" "$SRC/state.c"
$CC $CFLAGS -o "$OUT/xen-double" "$SRC/xen-double.c" "$SRC/pv.c" "$SRC/state.c" \
    -lxenguest -lxenctrl -lxentoollog
