#!/bin/bash
# tests/fuzz/run.sh - build and run every libFuzzer target in tests/fuzz/.
#
#   FUZZ_SECONDS=60   how long each target runs (-max_total_time)
#
# Targets are built into build/fuzz/ with ASan and UBSan, and UBSan findings
# abort, so any report is a crash.  Each target's corpus lives in
# tests/fuzz/corpus-NAME/ (git-ignored, kept between runs so coverage only
# grows) and is seeded with a few valid messages so the fuzzer starts past
# the VER checks.  A crashing input is saved as build/fuzz/crash-*; replay it
# with build/fuzz/NAME FILE.  Exits nonzero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CC_FUZZ=${CC_FUZZ:-clang}
mkdir -p build/fuzz

# seed DIR NAME BYTES: write printf-escaped BYTES to DIR/seed-NAME.
seed() { printf "$3" >"$1/seed-$2"; }

seed_socks5() {
	local d=$1
	seed "$d" reply-v4 '\x05\x00\x00\x01\xc0\x00\x02\x01\x1f\x90'
	seed "$d" reply-v6 '\x05\x04\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x01\xbb'
	seed "$d" reply-mapped '\x05\x00\x00\x04\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x01\0\x50'
	seed "$d" reply-domain '\x05\x00\x00\x03\x0bexample.com\x00\x50GET'
	seed "$d" udp-v4 '\x00\x00\x00\x01\x7f\x00\x00\x01\x00\x35payload'
	seed "$d" udp-domain '\x00\x00\x81\x03\x01a\x00\x35'
	seed "$d" method '\x05\x02'
	seed "$d" userpass '\x01\x00'
}

# ID 0x1234, question www.example.test; the first two are what dnsmasq 2.90
# sent for a CNAME to real.example.test with two A / one AAAA records.
seed_dnsmsg() {
	local d=$1 q='\x12\x34\x85\x80\x00\x01'
	local www='\x03www\x07example\x04test\x00'
	local cname='\xc0\x0c\x00\x05\x00\x01\x00\x00\x01\x2c\x00\x13\x04real\x07example\x04test\x00'
	seed "$d" dnsmasq-a "$q"'\x00\x03\x00\x00\x00\x00'"$www"'\x00\x01\x00\x01'"$cname"'\xc0\x2e\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x0a\xc0\x2e\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x0b'
	seed "$d" dnsmasq-aaaa "$q"'\x00\x02\x00\x00\x00\x00'"$www"'\x00\x1c\x00\x01'"$cname"'\xc0\x2e\x00\x1c\x00\x01\x00\x00\x01\x2c\x00\x10\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10'
	seed "$d" nxdomain '\x12\x34\x85\x83\x00\x01\x00\x00\x00\x01\x00\x00'"$www"'\x00\x01\x00\x01\xc0\x10\x00\x06\x00\x01\x00\x00\x03\x84\x00\x1e\x02ns\xc0\x10\x02hm\xc0\x10\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01'
	seed "$d" other-opt '\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x01\x01a\x04test\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00'
}

rc=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=build/fuzz/$name
	corpus=tests/fuzz/corpus-${name#fuzz_}
	echo "== fuzz: $name (${FUZZ_SECONDS}s)"
	"$CC_FUZZ" -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -D_GNU_SOURCE -Ipreload \
		-o "$bin" "$src" preload/socks5.c preload/dnsmsg.c
	mkdir -p "$corpus"
	if declare -F "seed_${name#fuzz_}" >/dev/null; then
		"seed_${name#fuzz_}" "$corpus"
	fi
	if ! "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
		-artifact_prefix=build/fuzz/ "$corpus"; then
		echo "fuzz: $name FAILED (input saved under build/fuzz/)"
		rc=1
	fi
done
exit $rc
