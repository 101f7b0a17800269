#!/bin/sh
# scripts/soname.sh NAME MACRO: the C flags naming the soname of lib NAME
# (as the linker finds libNAME.so) and the Debian package holding it, for
# a client library loaded when a URI first needs it
# (lib/io/dl-internal.h): -DLS_SONAME_MACRO="..." -DLS_PKG_MACRO="...".
# Prints nothing if there is no libNAME.so or it names no soname.
f=$(${CC:-cc} -print-file-name="lib$1.so")
[ -e "$f" ] || exit 0
so=$(objdump -p "$f" 2>/dev/null | sed -n 's/^ *SONAME *//p')
[ -n "$so" ] || exit 0
real=$(readlink -f "$(dirname "$f")/$so")
pkg=$(dpkg -S "$real" 2>/dev/null | sed -n '1s/:.*//p')
printf '%s\n' "-DLS_SONAME_$2=\\\"$so\\\" -DLS_PKG_$2=\\\"$pkg\\\""
