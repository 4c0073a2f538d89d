#!/bin/bash
# The shared object must export exactly the hooks listed in
# preload/socksify.map: every other symbol stays out of the host program.
. "$(dirname "$0")/lib.sh"

want=$(sed -n '/global:/,/local:/p' "$TOP/preload/socksify.map" |
	grep -Eo '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;' | tr -d ' \t;' | sort)
got=$(nm -D --defined-only "$LIBSOCKSIFY" | awk '$2 ~ /^[TtWwiDdBb]$/ {print $3}' |
	sed 's/@.*//' | sort -u)

if [ -z "$want" ]; then
	fail "the intended export list in socksify.map is empty"
elif [ "$want" = "$got" ]; then
	pass "exports are exactly: $(echo $want)"
else
	fail "exports differ from socksify.map: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
fi

# Each exported hook must also be defined (not an undefined reference).
for s in $want; do
	nm -D --defined-only "$LIBSOCKSIFY" | grep -qw "$s" || fail "hook $s is not defined"
done

# No undefined symbols beyond libc/libdl/libpthread (-z defs catches the
# rest at link time); and the library must not need an executable stack.
if readelf -lW "$LIBSOCKSIFY" | grep -q 'GNU_STACK.*RWE'; then
	fail "libsocksify.so asks for an executable stack"
else
	pass "no executable stack"
fi
if readelf -dW "$LIBSOCKSIFY" | grep -q 'BIND_NOW'; then
	pass "linked with -z now"
else
	fail "not linked with -z now"
fi
summary exports
