#!/bin/bash
# Runs every test suite `make check` owns and prints each runner's closing
# line.  Exits nonzero if any suite failed.  With an argument, runs only the
# named suites (unit exports launcher fake lab).
cd "$(dirname "$0")/.." || exit 1
suites=${*:-unit exports launcher fake lab}
rc=0
for s in $suites; do
	case $s in
	unit)
		for t in build/unit/test_*; do
			[ -x "$t" ] || continue
			echo "== unit: $t"
			CK_FORK=yes "$t" || rc=1
		done
		;;
	exports) echo "== exports"; tests/exports.sh || rc=1 ;;
	launcher) echo "== launcher"; tests/launcher.sh || rc=1 ;;
	fake) echo "== fake SOCKS5 server"; tests/fake/run.sh || rc=1 ;;
	lab) echo "== lab"; tests/lab/run.sh || rc=1 ;;
	*) echo "run-checks: unknown suite $s" >&2; rc=1 ;;
	esac
done
exit $rc
