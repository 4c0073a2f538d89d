#!/bin/bash
# Runs every test suite `make check` owns and prints each runner's closing
# line.  Exits nonzero if any suite failed.  With an argument, runs only the
# named suites (format unit sanitize exports launcher resolver hooks fuzz
# fake lab dns udp harden asyncmatrix async bind bindreview loglines
# check static examples install).
cd "$(dirname "$0")/.." || exit 1
suites=${*:-format unit sanitize exports launcher resolver hooks fuzz fake lab dns udp harden asyncmatrix async bind bindreview loglines check static examples install}
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
	format)
		echo "== format (clang-format, .clang-format)"
		if make -s format-check >build/format.log 2>&1; then
			echo "format: 1 passed, 0 failed"
		else
			head -20 build/format.log
			echo "format: 0 passed, 1 failed"
			rc=1
		fi
		;;
	sanitize)
		# ASan + UBSan build (make sanitize): the unit suites and real
		# programs in the lab through the sanitized library.
		echo "== sanitize (ASan+UBSan: build/san)"
		tests/sanitize.sh || rc=1
		;;
	exports) echo "== exports"; tests/exports.sh || rc=1 ;;
	launcher) echo "== launcher"; tests/launcher.sh || rc=1 ;;
	resolver) echo "== resolver"; tests/resolver.sh || rc=1 ;;
	hooks) echo "== hooks"; tests/hooks/run.sh || rc=1 ;;
	fuzz)
		# A short smoke run of every parser fuzzer; `make fuzz` runs longer.
		echo "== fuzz (${FUZZ_SECONDS:-10}s per target; log in build/fuzz.log)"
		if FUZZ_SECONDS=${FUZZ_SECONDS:-10} tests/fuzz/run.sh >build/fuzz.log 2>&1; then
			grep -E '^== fuzz|Done [0-9]+ runs' build/fuzz.log
			echo "fuzz: 1 passed, 0 failed"
		else
			tail -30 build/fuzz.log
			echo "fuzz: 0 passed, 1 failed"
			rc=1
		fi
		;;
	fake) echo "== fake SOCKS5 server"; tests/fake/run.sh || rc=1 ;;
	lab) echo "== lab"; tests/lab/run.sh || rc=1 ;;
	dns) echo "== dns"; tests/lab/dns.sh || rc=1 ;;
	udp) echo "== udp"; tests/lab/udp.sh || rc=1 ;;
	harden) echo "== harden (issue 7's defects)"; tests/lab/harden.sh || rc=1 ;;
	asyncmatrix) echo "== asyncmatrix (issue 8: asynchronous connect)"; tests/lab/asyncmatrix.sh || rc=1 ;;
	async) echo "== async (issue 8: real programs through a distant proxy)"; tests/lab/async.sh || rc=1 ;;
	bind) echo "== bind (issue 9: inbound TCP through SOCKS BIND)"; tests/lab/bind.sh || rc=1 ;;
	bindreview) echo "== bindreview (the BIND review's regressions)"; tests/bindreview.sh || rc=1 ;;
	loglines) echo "== loglines (issue 10: the log lines)"; tests/lab/loglines.sh || rc=1 ;;
	check) echo "== check (socksify --check against real proxies)"; tests/lab/check.sh || rc=1 ;;
	static) echo "== static (issue 11: static programs through the seccomp supervisor)"; tests/lab/static.sh || rc=1 ;;
	examples) echo "== examples (issue 10: the documents' examples)"; tests/lab/examples.sh || rc=1 ;;
	install) echo "== install (make install/uninstall, the Debian package beside dante-client)"; tests/install.sh || rc=1 ;;
	*) echo "run-checks: unknown suite $s" >&2; rc=1 ;;
	esac
done
exit $rc
