#!/bin/bash
# tests/fuzz/run.sh - build and run every libFuzzer target in tests/fuzz/.
#
#   FUZZ_SECONDS=60   how long each target runs (-max_total_time)
#   FUZZ_CFLAGS=...   extra compiler flags for every target
#
# Targets are built into build/fuzz/ with ASan and UBSan, and UBSan findings
# abort, so any report is a crash.  Each target NAME (fuzz_NAME.c) reads two
# corpus directories: build/fuzz/corpus-NAME/ (untracked, kept between runs
# so coverage only grows; new inputs go there) and tests/fuzz/seeds/NAME/
# (a few hand-picked inputs, in git, so the fuzzer starts past the
# first checks).  A crashing input is saved as build/fuzz/crash-*; replay it
# with build/fuzz/fuzz_NAME FILE.  Exits nonzero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CC_FUZZ=${CC_FUZZ:-clang}
mkdir -p build/fuzz

rc=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=build/fuzz/$name
	corpus=build/fuzz/corpus-${name#fuzz_}
	seeds=tests/fuzz/seeds/${name#fuzz_}
	# The code under test, per target.
	case $name in
	fuzz_config) objs=(preload/config.c) ;;
	fuzz_dnsmsg) objs=(preload/dnsmsg.c) ;;
	fuzz_socks5) objs=(preload/socks5.c) ;;
	*)
		echo "fuzz: no sources listed for $name in $0" >&2
		exit 1
		;;
	esac
	echo "== fuzz: $name (${FUZZ_SECONDS}s)"
	# shellcheck disable=SC2086 # FUZZ_CFLAGS is a list of flags
	"$CC_FUZZ" -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -D_GNU_SOURCE -Ipreload \
		${FUZZ_CFLAGS:-} -o "$bin" "$src" "${objs[@]}"
	mkdir -p "$corpus"
	dirs=("$corpus")
	if [ -d "$seeds" ]; then
		dirs+=("$seeds")
	fi
	if ! "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
		-artifact_prefix=build/fuzz/ "${dirs[@]}"; then
		echo "fuzz: $name FAILED (input saved under build/fuzz/)"
		rc=1
	fi
done
exit $rc
