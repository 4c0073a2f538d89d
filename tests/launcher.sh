#!/bin/bash
# The launcher: options, LD_PRELOAD handling, config checking, and refusing
# commands the loader would run unproxied.  No network needed.
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
URL=socks5://127.0.0.1:1080

# 0 when FILE is an ELF program without a PT_INTERP header.
is_elf_static() { readelf -lW "$1" 2>/dev/null | grep -q LOAD && ! readelf -lW "$1" | grep -q INTERP; }

# Prints the LD_PRELOAD the command would see.
show_preload() { "$SOCKSIFY" "$@" /bin/sh -c 'printf %s "$LD_PRELOAD"'; }

out=$(SOCKSIFY_PROXY=$URL LD_PRELOAD= show_preload)
expect "LD_PRELOAD is the absolute library path" [ "$out" = "$LIBSOCKSIFY" ]

out=$(SOCKSIFY_PROXY=$URL LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 show_preload)
expect "an existing LD_PRELOAD is kept after ours" \
	[ "$out" = "$LIBSOCKSIFY /lib/x86_64-linux-gnu/libc.so.6" ]

out=$(SOCKSIFY_PROXY=$URL LD_PRELOAD=$LIBSOCKSIFY show_preload)
expect "the library is not added twice" [ "$out" = "$LIBSOCKSIFY" ]

out=$(cd / && LD_PRELOAD= "$SOCKSIFY" -x $URL /bin/sh -c 'printf %s "$SOCKSIFY_PROXY"')
expect "-x exports SOCKSIFY_PROXY" [ "$out" = "$URL" ]

printf 'proxy %s\n' "$URL" >"$T/ok.conf"
out=$(cd "$T" && "$SOCKSIFY" -f ok.conf /bin/sh -c 'printf %s "$SOCKSIFY_CONF"')
expect "-f exports an absolute SOCKSIFY_CONF" [ "$out" = "$T/ok.conf" ]

out=$("$SOCKSIFY" -x $URL -vv /bin/sh -c 'printf %s "$SOCKSIFY_LOG_LEVEL"')
expect "-vv sets the debug level" [ "$out" = debug ]

printf 'proxy %s\ntimeout banana\n' "$URL" >"$T/bad.conf"
"$SOCKSIFY" -f "$T/bad.conf" /bin/echo SHOULD-NOT-RUN >"$T/out" 2>"$T/err"
rc=$?
expect "a broken config: exit 125" [ $rc = 125 ]
expect "a broken config: the command does not run" [ ! -s "$T/out" ]
expect "a broken config: FILE:LINE named" grep -q "$T/bad.conf:2:" "$T/err"

env -u SOCKSIFY_PROXY -u ALL_PROXY -u all_proxy SOCKSIFY_CONF=/nonexistent/x.conf \
	"$SOCKSIFY" /bin/true 2>"$T/err"
rc=$?
expect "a missing SOCKSIFY_CONF file: exit 125" [ $rc = 125 ]
expect "a missing SOCKSIFY_CONF file: said" grep -q "/nonexistent/x.conf" "$T/err"

# Where the config comes from: $XDG_CONFIG_HOME, then ~/.config, then
# /etc; ALL_PROXY only when there is neither SOCKSIFY_PROXY nor a file.
# The check run reports the first broken place it reads, which shows which
# one it chose.
clean_env() {
	env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u ALL_PROXY -u all_proxy \
		-u XDG_CONFIG_HOME HOME="$T/home" "$@"
}
mkdir -p "$T/xdg/socksify" "$T/home/.config/socksify"
printf 'bogus-key 1\n' >"$T/xdg/socksify/socks.conf"
printf 'timeout x\n' >"$T/home/.config/socksify/socks.conf"
clean_env XDG_CONFIG_HOME="$T/xdg" "$SOCKSIFY" /bin/true 2>"$T/err"
expect "the config in \$XDG_CONFIG_HOME/socksify is read first" grep -q "$T/xdg/socksify/socks.conf:1:" "$T/err"
clean_env "$SOCKSIFY" /bin/true 2>"$T/err"
expect "without XDG_CONFIG_HOME, ~/.config/socksify/socks.conf is read" \
	grep -q "$T/home/.config/socksify/socks.conf:1:" "$T/err"
rm "$T/home/.config/socksify/socks.conf"
if [ ! -e /etc/socksify/socks.conf ]; then
	clean_env ALL_PROXY="socks5://u%zz:p@127.0.0.1" "$SOCKSIFY" /bin/true 2>"$T/err"
	expect "with no file, a socks5:// ALL_PROXY is used" grep -q "ALL_PROXY" "$T/err"
	clean_env all_proxy="socks5h://u%zz:p@127.0.0.1" "$SOCKSIFY" /bin/true 2>"$T/err"
	expect "with no file, a socks5h:// all_proxy is used" grep -q "ALL_PROXY" "$T/err"
	clean_env ALL_PROXY="http://127.0.0.1:3128" "$SOCKSIFY" /bin/true 2>"$T/err"
	expect "an http:// ALL_PROXY is ignored (no proxy configured)" grep -q "no proxy configured" "$T/err"
	expect "SOCKSIFY_PROXY wins over ALL_PROXY" \
		clean_env SOCKSIFY_PROXY=socks5://127.0.0.1 ALL_PROXY="socks5://u%zz:p@127.0.0.1" "$SOCKSIFY" /bin/true
	printf 'proxy socks5://127.0.0.1:1080\n' >"$T/home/.config/socksify/socks.conf"
	expect "a config file wins over a broken ALL_PROXY" \
		clean_env ALL_PROXY="socks5://u%zz:p@127.0.0.1" "$SOCKSIFY" /bin/true
else
	skip "ALL_PROXY fallback" "/etc/socksify/socks.conf exists on this machine"
fi

"$SOCKSIFY" -x http://127.0.0.1:3128 /bin/true 2>"$T/err"
rc=$?
expect "an http:// proxy URL is refused (exit 125)" [ $rc = 125 ]
expect "an http:// proxy URL: the error names the scheme" grep -qi "scheme\|socks5" "$T/err"

"$SOCKSIFY" -x $URL no-such-command-xyz 2>"$T/err"
expect "an unknown command: exit 127" [ $? = 127 ]

# A statically linked program: run under the supervisor (issue 11), which
# passes its exit status and its death by a signal on; tests/lab/static.sh
# checks its connections.
if printf '#include <stdlib.h>\n#include <signal.h>\nint main(int c, char **v){if (c > 2) raise(atoi(v[2])); return c > 1 ? atoi(v[1]) : 0;}\n' |
	cc -static -x c -o "$T/static" - 2>/dev/null; then
	"$SOCKSIFY" -x $URL "$T/static" 2>"$T/err"
	rc=$?
	expect "a static binary runs under the supervisor (exit 0, was $rc)" eval '[ $rc = 0 ] && [ ! -s "$T/err" ]'
	"$SOCKSIFY" -x $URL "$T/static" 7 2>"$T/err"
	rc=$?
	expect "a static binary's exit status comes through (7, was $rc)" [ $rc = 7 ]
	"$SOCKSIFY" -x $URL "$T/static" 0 15 2>"$T/err"
	rc=$?
	expect "a static binary killed by SIGTERM: the launcher dies of it too (143, was $rc)" [ $rc = 143 ]
	"$SOCKSIFY" -x $URL --force "$T/static" 2>"$T/err"
	rc=$?
	expect "a static binary with --force is supervised all the same (no UNPROXIED warning)" \
		eval '[ $rc = 0 ] && ! grep -q UNPROXIED "$T/err"'
	printf '#!/usr/bin/env -S %s 5\n' "$T/static" >"$T/envs"; chmod +x "$T/envs"
	"$SOCKSIFY" -x $URL "$T/envs" 2>"$T/err"
	expect "a #!/usr/bin/env -S script with a static interpreter is supervised (5)" [ $? = 5 ]
	printf '#!%s 4\n' "$T/static" >"$T/direct"; chmod +x "$T/direct"
	"$SOCKSIFY" -x $URL "$T/direct" 2>"$T/err"
	expect "a #! script with a static interpreter is supervised (4)" [ $? = 4 ]
	# Supervisors do not nest (one seccomp listener per process tree):
	# an inner socksify that needs one says so and exits 126.
	"$SOCKSIFY" -x $URL --supervise "$SOCKSIFY" -x $URL "$T/static" 2>"$T/err"
	rc=$?
	expect "a supervisor inside a supervisor: 126 (was $rc)" [ $rc = 126 ]
	expect "... and says they do not nest" grep -q "do not nest" "$T/err"
	expect "... and what --force would do" grep -qx "socksify: not starting it; --force runs it anyway, unproxied" "$T/err"
	"$SOCKSIFY" -x $URL --supervise "$SOCKSIFY" -x $URL --force "$T/static" 6 2>"$T/err"
	rc=$?
	expect "... with --force: the program runs without a supervisor of its own (its status: 6, was $rc)" [ $rc = 6 ]
	expect "... after a warning (UNPROXIED)" \
		grep -q "^socksify: warning: cannot install the supervisor's seccomp filter for $T/static: .*do not nest); running it UNPROXIED (--force)$" "$T/err"
	"$SOCKSIFY" -x $URL --supervise "$SOCKSIFY" -q -x $URL --force "$T/static" 2>"$T/err"
	expect "... with --force -q: runs, says nothing" eval '[ $? = 0 ] && [ ! -s "$T/err" ]'
	out=$("$SOCKSIFY" -x $URL --supervise "$SOCKSIFY" -x $URL --force --supervise /bin/sh -c 'printf %s "$LD_PRELOAD"; exit 3' 2>"$T/err")
	rc=$?
	expect "... --force --supervise on a dynamic program there: runs with the library only (3, was $rc)" \
		eval '[ $rc = 3 ] && [ "$out" = "$LIBSOCKSIFY" ] && grep -q "running it without the supervisor, with the library only (--force)$" "$T/err"'
	out=$("$SOCKSIFY" -x $URL --supervise /bin/sh -c 'printf %s "$LD_PRELOAD"' 2>"$T/err")
	expect "--supervise on a dynamic program: it runs, with the library preloaded too" \
		[ "$out" = "$LIBSOCKSIFY" ]
	# The library's exec hook (preload/hook_exec.c) and the launcher's
	# own judgement fail closed (tests/lab/static.sh case h checks the
	# connections): each case prints what build/prog/execprobe's static
	# child sees, seccomp=2 only under the supervisor.
	EP=$TOP/build/prog/execprobe
	cat >"$T/sprobe.c" <<-'EOF'
		#include <stdio.h>
		#include <string.h>
		int main(int c, char **v)
		{
			char l[256], s[32] = "?";
			FILE *f = fopen("/proc/self/status", "r");
			while (f && fgets(l, sizeof(l), f))
				if (strncmp(l, "Seccomp:", 8) == 0)
					sscanf(l + 8, "%31s", s);
			printf("argc=%d argv0=%s seccomp=%s\n", c, c ? v[0] : "(none)", s);
			return 0;
		}
	EOF
	mkdir -p "$T/pub/pd/sprobe" "$T/pub/pb"
	if cc -static -o "$T/pub/sprobe" "$T/sprobe.c" 2>/dev/null && [ -x "$EP" ]; then
		SP=$T/pub/sprobe
		hx() { "$SOCKSIFY" -x $URL "$@" 2>"$T/err"; }
		out=$("$SP")
		expect "control: the static probe alone is not supervised ($out)" [ "$out" = "argc=1 argv0=$SP seccomp=0" ]
		out=$(hx "$EP" execv "$SP")
		expect "exec hook: execv of a static program is supervised ($out)" [ "$out" = "argc=1 argv0=$SP seccomp=2" ]
		# 1: a #! script whose interpreter is static, also two levels
		# deep, and busybox as the interpreter.
		printf '#!%s\n' "$SP" >"$T/pub/s1"
		printf '#!%s\n' "$T/pub/s1" >"$T/pub/s2"
		printf '#!/bin/busybox sh\nbusybox cat /proc/self/status\n' >"$T/pub/bb"
		chmod 755 "$T/pub/s1" "$T/pub/s2" "$T/pub/bb"
		out=$(hx "$EP" execv "$T/pub/s1")
		expect "exec hook: a #! script with a static interpreter is supervised ($out)" \
			[ "$out" = "argc=2 argv0=$SP seccomp=2" ]
		out=$(hx "$EP" execve "$T/pub/s2")
		expect "exec hook: a #! script whose #! interpreter has a static one (2 levels) is supervised ($out)" \
			[ "$out" = "argc=3 argv0=$SP seccomp=2" ]
		out=$(hx "$SOCKSIFY" -x $URL "$T/pub/s2")
		expect "launcher: a 2-level #! chain to a static interpreter is supervised ($out)" \
			[ "$out" = "argc=3 argv0=$SP seccomp=2" ]
		if [ -x /bin/busybox ] && is_elf_static /bin/busybox; then
			out=$(hx "$EP" posix_spawn "$T/pub/bb" | grep '^Seccomp:')
			expect "exec hook: a #!/bin/busybox sh script is supervised ($out)" \
				[ "$out" = "$(printf 'Seccomp:\t2')" ]
			# 6: argv[0] kept: busybox goes by it (multi-call).
			out=$(hx "$EP" -0 echo execv /bin/busybox hello)
			expect "exec hook: argv[0] is kept (busybox run as 'echo': $out)" [ "$out" = hello ]
		else
			skip "exec hook: busybox cases" "no static /bin/busybox (busybox-static)"
		fi
		out=$(hx "$EP" -0 NAME posix_spawn "$SP" a)
		expect "exec hook: argv[0] kept through posix_spawn ($out)" [ "$out" = "argc=2 argv0=NAME seccomp=2" ]
		out=$(hx "$SOCKSIFY" -x $URL --argv0 NAME "$SP" a)
		expect "launcher: --argv0 NAME sets the command's argv[0] ($out)" [ "$out" = "argc=2 argv0=NAME seccomp=2" ]
		# 7: an empty argv: the program gets "" (as the kernel gives),
		# nothing read past the array's end.
		out=$(hx "$EP" -E execv "$SP")
		expect "exec hook: an empty argv gives argv[0] \"\", nothing past it ($out)" [ "$out" = "argc=1 argv0= seccomp=2" ]
		# 8: more than 4096 arguments, as the kernel takes them.
		out=$(hx "$EP" -N 5000 execv "$SP")
		expect "exec hook: execv with 5001 arguments ($out)" [ "$out" = "argc=5001 argv0=$SP seccomp=2" ]
		out=$(hx "$EP" execl-many "$SP")
		expect "exec hook: execl with 5001 arguments ($out)" [ "$out" = "argc=5001 argv0=$SP seccomp=2" ]
		# 3: PATH search skips a directory of the name, as execvp does.
		cp "$SP" "$T/pub/pb/sprobe"
		for c in execvp posix_spawnp; do
			out=$(PATH=$T/pub/pd:$T/pub/pb:/usr/bin:/bin hx "$EP" $c sprobe)
			expect "exec hook: $c skips a directory in PATH and finds the static program ($out)" \
				[ "$out" = "argc=1 argv0=sprobe seccomp=2" ]
		done
		# 5: SOCKSIFY_SUPERVISED set by hand is not trusted: neither in
		# the new environment nor in ours without a seccomp filter.
		out=$(hx env SOCKSIFY_SUPERVISED=1 "$SP")
		expect "exec hook: SOCKSIFY_SUPERVISED=1 in the new environment is not trusted ($out)" \
			[ "$out" = "argc=1 argv0=$SP seccomp=2" ]
		out=$(hx env SOCKSIFY_SUPERVISED=1 "$EP" execv "$SP")
		expect "exec hook: SOCKSIFY_SUPERVISED=1 in our own environment, no filter: not trusted ($out)" \
			[ "$out" = "argc=1 argv0=$SP seccomp=2" ]
		# ... while a dynamic program under the supervisor (its own
		# SOCKSIFY_SUPERVISED and filter) runs a static one as asked:
		# the filter it inherits covers it, no second launcher.
		out=$(hx -v --supervise "$EP" execv "$SP")
		expect "exec hook: under the supervisor a static child runs as asked, covered by the inherited filter ($out)" \
			eval '[ "$out" = "argc=1 argv0=$SP seccomp=2" ] && ! grep -q "exec of" "$T/err"'
		# 4: more than 64 program headers (80).
		if command -v python3 >/dev/null 2>&1 &&
			python3 "$TOP/tests/prog-static/manyphdrs.py" "$SP" "$T/pub/ph80" 80 2>/dev/null; then
			chmod 755 "$T/pub/ph80"
			out=$("$T/pub/ph80")
			expect "control: the 80-header static probe runs ($out)" [ "$out" = "argc=1 argv0=$T/pub/ph80 seccomp=0" ]
			out=$(hx "$EP" execv "$T/pub/ph80")
			expect "exec hook: a static program with 80 program headers is supervised ($out)" \
				[ "$out" = "argc=1 argv0=$T/pub/ph80 seccomp=2" ]
		else
			skip "80 program headers" "no python3"
		fi
		# 2: an execute-only (0711) static program run by a user who
		# cannot read it: supervised all the same, with an info line.
		cp "$SP" "$T/pub/xo"
		chmod 711 "$T/pub/xo" "$T"
		chmod 755 "$T/pub"
		nob=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		out=$("${nob[@]}" env HOME=/ "$SOCKSIFY" -x $URL -v "$T/pub/xo" 2>"$T/err")
		expect "launcher: an execute-only static program (not root) is supervised ($out)" \
			[ "$out" = "argc=1 argv0=$T/pub/xo seccomp=2" ]
		expect "launcher: ... and says so at info" grep -q "info: $T/pub/xo cannot be read to judge whether it is statically linked" "$T/err"
		out=$("${nob[@]}" env HOME=/ "$SOCKSIFY" -x $URL -v "$EP" execv "$T/pub/xo" 2>"$T/err")
		expect "exec hook: an execute-only static program (not root) is supervised ($out)" \
			[ "$out" = "argc=1 argv0=$T/pub/xo seccomp=2" ]
		expect "exec hook: ... and says so at info" grep -q "exec of $T/pub/xo: it cannot be read to judge" "$T/err"
		chmod 700 "$T"
	else
		skip "exec hook cases" "cannot link the probe statically, or no build/prog/execprobe"
	fi
else
	skip "static binary supervision" "cannot link statically here"
fi

# A FIFO in the config's place is refused at once, not waited on.
mkfifo "$T/fifo.conf"
timeout 10 "$SOCKSIFY" -f "$T/fifo.conf" /bin/true 2>"$T/err"
rc=$?
expect "a FIFO as the config: refused (exit 125), no hang" [ $rc = 125 ]
expect "a FIFO as the config: 'not a regular file'" grep -q "not a regular file" "$T/err"

# A broken config that sends the log to a file still stops the launcher.
printf 'log_file %s\n' "$T/sfy.log" >"$T/logonly.conf"
env -u SOCKSIFY_PROXY -u ALL_PROXY -u all_proxy "$SOCKSIFY" -f "$T/logonly.conf" /bin/echo RAN >"$T/out" 2>"$T/err"
rc=$?
expect "a broken config with log_file: still refused (exit 125)" [ $rc = 125 ]
expect "a broken config with log_file: the problem is on stderr" grep -q "no proxy configured" "$T/err"

# A dynamically linked program and a script run normally.
expect "a dynamic binary runs" "$SOCKSIFY" -x $URL /bin/true
printf '#!/bin/sh\nexit 0\n' >"$T/script"; chmod +x "$T/script"
expect "a #! script runs" "$SOCKSIFY" -x $URL "$T/script"
out=$("$SOCKSIFY" -x $URL echo builtin-named)
expect "a command that is also a shell builtin (echo) runs its program" [ "$out" = builtin-named ]

# A setuid program owned by someone else: the loader would drop LD_PRELOAD.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	cp /bin/true "$T/suid"; chown nobody "$T/suid"; chmod 4755 "$T/suid"
	"$SOCKSIFY" -x $URL "$T/suid" 2>"$T/err"
	rc=$?
	expect "a setuid binary is refused (exit 126)" [ $rc = 126 ]
	expect "a setuid binary: the reason is given" grep -q "setuid" "$T/err"
	cp /bin/true "$T/sgid"; chgrp "$(id -gn nobody)" "$T/sgid"; chmod 2755 "$T/sgid"
	"$SOCKSIFY" -x $URL "$T/sgid" 2>"$T/err"
	expect "a setgid binary of another group is refused (exit 126)" [ $? = 126 ]
else
	skip "setuid detection" "needs root and a 'nobody' user"
fi

# A default config location the user may not even look into (a $HOME of
# another user, mode 0700) counts as absent: with -x the command runs.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	mkdir -p "$T/lockedhome/.config/socksify"
	echo "bogus 1" >"$T/lockedhome/.config/socksify/socks.conf"
	chmod 0700 "$T/lockedhome"
	chmod 0755 "$T"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -u SOCKSIFY_CONF -u XDG_CONFIG_HOME HOME="$T/lockedhome" \
		"$SOCKSIFY" -x $URL /bin/true 2>"$T/err"
	rc=$?
	expect "an unreadable \$HOME with -x: the command runs (exit 0, was $rc)" [ $rc = 0 ]
	expect "an unreadable \$HOME with -x: nothing said" [ ! -s "$T/err" ]
	# The owner can read it: that file is the configuration, and it is bad.
	env -u SOCKSIFY_CONF -u XDG_CONFIG_HOME HOME="$T/lockedhome" \
		"$SOCKSIFY" -x $URL /bin/true 2>"$T/err"
	expect "the same file, readable: its error still stops the start (exit 125)" [ $? = 125 ]
else
	skip "unreadable \$HOME" "needs root, a 'nobody' user and setpriv"
fi

# --env prints export lines that a shell can evaluate.
envout=$(LD_PRELOAD= "$SOCKSIFY" -x "socks5://a'b:c@127.0.0.1:1080" --env 2>"$T/err")
got=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 sh -c "$envout"'
printf "%s|%s" "$LD_PRELOAD" "$SOCKSIFY_PROXY"')
expect "--env output evaluates to our LD_PRELOAD before the old one" \
	[ "${got%%|*}" = "$LIBSOCKSIFY /lib/x86_64-linux-gnu/libc.so.6" ]
expect "--env quotes the proxy URL" [ "${got#*|}" = "socks5://a'b:c@127.0.0.1:1080" ]

expect "--help says how to use it" sh -c "'$SOCKSIFY' --help | grep -q 'Usage: socksify'"
expect "--version prints a version" sh -c "'$SOCKSIFY' --version | grep -Eq '^socksify [0-9]'"
"$SOCKSIFY" --bogus >/dev/null 2>&1
expect "an unknown option: exit 125" [ $? = 125 ]

# ---------------------------------------------------------------------------
# Below: each check runs the launcher once with r (stdout in $T/o, stderr in
# $T/e, status in RC) and asserts the status and the exact text.

# r CMD...: run CMD; its stdout, stderr and status in $T/o, $T/e, RC.
r() { "$@" >"$T/o" 2>"$T/e"; RC=$?; }
# is DESC RC STDERR [STDOUT]: the last r exited RC with exactly STDERR on
# stderr (and STDOUT on stdout, when given).
is() {
	local desc=$1 rc=$2 err=$3
	if [ "$RC" = "$rc" ] && [ "$(cat "$T/e")" = "$err" ] &&
		{ [ $# -lt 4 ] || [ "$(cat "$T/o")" = "$4" ]; }; then
		pass "$desc"
	else
		fail "$desc (exit $RC, wanted $rc)"
		sed 's/^/  err| /' "$T/e" | head -n 8
		sed 's/^/  out| /' "$T/o" | head -n 8
	fi
}
# no_proxy CMD...: CMD without any proxy configuration around it.
no_proxy() {
	env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u ALL_PROXY -u all_proxy \
		-u XDG_CONFIG_HOME -u SOCKSIFY_LOG_LEVEL -u SOCKSIFY_LOG_FILE \
		-u SOCKSIFY_BIND -u SOCKSIFY_ASYNC_CONNECT HOME="$T/nohome" "$@"
}
WITH=(env "SOCKSIFY_PROXY=$URL")
NOTSTART="socksify: not starting the command: fix the configuration first"

# --- options ---------------------------------------------------------------
"$SOCKSIFY" --help >"$T/help"
r "$SOCKSIFY"
expect "bare: the usage on stderr, nothing on stdout, exit 125" \
	eval '[ "$RC" = 125 ] && [ ! -s "$T/o" ] && cmp -s "$T/e" "$T/help"'
r "${WITH[@]}" "$SOCKSIFY" --
expect "'--' and no command: the usage on stderr, exit 125" \
	eval '[ "$RC" = 125 ] && [ ! -s "$T/o" ] && cmp -s "$T/e" "$T/help"'
r "$SOCKSIFY" -h
expect "-h prints the usage on stdout" eval '[ "$RC" = 0 ] && cmp -s "$T/o" "$T/help"'

pv='printf "%s|%s|%s" "$SOCKSIFY_LOG_LEVEL" "$SOCKSIFY_PROXY" "$SOCKSIFY_CONF"'
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" -vx $URL /bin/sh -c "$pv"
is "-vx URL: -v, then -x takes the next argument" 0 "" "info|$URL|"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" -vv -x $URL /bin/sh -c "$pv"
is "-vv: debug" 0 "" "debug|$URL|"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" -v -x $URL /bin/sh -c "$pv"
is "-v alone: info" 0 "" "info|$URL|"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" -qf "$T/ok.conf" /bin/sh -c "$pv"
is "-qf FILE: -q, then -f takes the next argument" 0 "" "error||$T/ok.conf"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" "-x$URL" /bin/sh -c "$pv"
is "-xURL: the rest of the word is the URL" 0 "" "|$URL|"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" "-vf$T/ok.conf" /bin/sh -c "$pv"
is "-vfFILE: the rest of the word is the file" 0 "" "info||$T/ok.conf"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" -vq -x $URL /bin/sh -c "$pv"
is "-vq: -q wins (error)" 0 "" "error|$URL|"
r "$SOCKSIFY" '-vqx?' /bin/true
is "-vqx?: '?' is -x's URL, refused as -x's" 125 \
	"socksify: -x: missing scheme (expected socks5:// or socks5h://)"
r "$SOCKSIFY" -vV
is "-vV: the version" 0 "" "socksify 0.1.0"
r "${WITH[@]}" "$SOCKSIFY" -vz /bin/echo RAN
is "an unknown option in a bundle (-vz): named, exit 125, nothing run" 125 \
	"socksify: unknown option '-z' (see socksify --help)" ""
r "${WITH[@]}" "$SOCKSIFY" -v-q /bin/echo RAN
is "'-' inside a bundle (-v-q) is an unknown option" 125 \
	"socksify: unknown option '--' (see socksify --help)" ""
r "${WITH[@]}" "$SOCKSIFY" --verbos /bin/echo RAN
is "an unknown long option: named, exit 125" 125 \
	"socksify: unknown option '--verbos' (see socksify --help)" ""

r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" "--proxy=$URL" /bin/sh -c "$pv"
is "--proxy=URL" 0 "" "|$URL|"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL "$SOCKSIFY" --proxy "$URL" /bin/sh -c "$pv"
is "--proxy URL" 0 "" "|$URL|"
r env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL sh -c 'cd "$1" && exec "$2" --config=ok.conf /bin/sh -c "$3"' sh "$T" "$SOCKSIFY" "$pv"
is "--config=FILE (relative: made absolute)" 0 "" "||$T/ok.conf"
r no_proxy "$SOCKSIFY" --explain=10.1.2.3:80 -x $URL
is "--explain=HOST:PORT" 0 "" \
	"address 10.1.2.3 port 80: proxy (no rule matches: the default): carried through the proxy"
for o in --env=1 --off=x --force=yes --verbose=2 --quiet=1 --shell=/bin/sh --help=x --version=1; do
	r "${WITH[@]}" "$SOCKSIFY" "$o" /bin/echo RAN
	is "$o: takes no value, exit 125" 125 \
		"socksify: option '${o%%=*}' takes no value (see socksify --help)" ""
done
for o in "-x|a URL" "--proxy|a URL" "-f|a file" "--config|a file" "--explain|HOST[:PORT]"; do
	r "${WITH[@]}" "$SOCKSIFY" "${o%%|*}"
	is "${o%%|*} without its argument: exit 125" 125 "socksify: ${o%%|*} needs ${o#*|}" ""
	r "${WITH[@]}" "$SOCKSIFY" -v "${o%%|*}"
	is "${o%%|*} without its argument, after -v: exit 125" 125 "socksify: ${o%%|*} needs ${o#*|}" ""
done
r "${WITH[@]}" "$SOCKSIFY" -vx
is "-vx without the URL: exit 125" 125 "socksify: -x needs a URL" ""
r "${WITH[@]}" "$SOCKSIFY" --env --check
is "two modes: refused" 125 \
	"socksify: --check cannot be combined with another of --env, --off, --shell, --check, --explain" ""

r env SOCKSIFY_PROXY=$URL "$SOCKSIFY" -x http://127.0.0.1:3128 /bin/echo RAN
is "-x with a bad URL: labelled -x:, not SOCKSIFY_PROXY:" 125 \
	"socksify: -x: unsupported scheme 'http' (supported: socks5://, socks5h://)" ""
r "$SOCKSIFY" --proxy=socks5://127.0.0.1:99999 /bin/echo RAN
expect "--proxy= with a bad port: labelled --proxy:, exit 125, nothing run" \
	eval '[ "$RC" = 125 ] && [ ! -s "$T/o" ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q '\''^socksify: --proxy: '\'' "$T/e"'
r "$SOCKSIFY" -x '' /bin/echo RAN
is "-x '': empty" 125 "socksify: -x: empty proxy URL" ""
r env SOCKSIFY_PROXY=http://127.0.0.1:3128 "$SOCKSIFY" /bin/echo RAN
is "a bad SOCKSIFY_PROXY: labelled SOCKSIFY_PROXY:, exit 125" 125 \
	"socksify: SOCKSIFY_PROXY: unsupported scheme 'http' (supported: socks5://, socks5h://)
$NOTSTART" ""

# The variables are checked like their keys.
for v in "SOCKSIFY_LOG_LEVEL=verbose|SOCKSIFY_LOG_LEVEL: bad level 'verbose' (expected error, warn, info or debug)" \
	"SOCKSIFY_BIND=bogus|SOCKSIFY_BIND: bad value 'bogus' (expected auto, always or never)" \
	"SOCKSIFY_ASYNC_CONNECT=maybe|SOCKSIFY_ASYNC_CONNECT: bad value 'maybe' (expected yes or no)" \
	"SOCKSIFY_LOG_FILE=rel.log|SOCKSIFY_LOG_FILE: must be an absolute path"; do
	r env SOCKSIFY_PROXY=$URL "${v%%|*}" "$SOCKSIFY" /bin/echo RAN
	is "${v%%|*}: exit 125, the variable named, nothing run" 125 "socksify: ${v#*|}
$NOTSTART" ""
	r env SOCKSIFY_PROXY=$URL "${v%%|*}" "$SOCKSIFY" --explain 10.1.2.3:80
	is "${v%%|*}: --explain refuses it too" 125 "socksify: ${v#*|}" ""
done

# --- the command cannot be executed: one clean line ------------------------
mkdir "$T/adir" "$T/p1" "$T/p2" "$T/p3" "$T/p4"
printf 'echo hi\n' >"$T/noexec"
printf '#!%s/no-such-interp -x\necho hi\n' "$T" >"$T/badinterp"; chmod +x "$T/badinterp"
printf 'int main(void){return 0;}\n' | cc -x c -o "$T/badloader" - -Wl,--dynamic-linker="$T/no-such-ld.so"
printf '\177BIN\000\000\000garbage\n' >"$T/binary"; chmod +x "$T/binary"
r "${WITH[@]}" "$SOCKSIFY" "$T/adir"
is "a directory: one line, exit 126" 126 "socksify: cannot run $T/adir: it is a directory" ""
r "${WITH[@]}" "$SOCKSIFY" "$T/noexec"
is "a file without x bit: one line, exit 126" 126 "socksify: cannot run $T/noexec: Permission denied" ""
r "${WITH[@]}" "$SOCKSIFY" "$T/badinterp"
is "a #! script whose interpreter is missing: one line naming it, exit 126" 126 \
	"socksify: cannot run $T/badinterp: its interpreter $T/no-such-interp is missing" ""
r "${WITH[@]}" "$SOCKSIFY" "$T/badloader"
is "a program whose ELF loader is missing: one line naming it, exit 126" 126 \
	"socksify: cannot run $T/badloader: its interpreter $T/no-such-ld.so is missing" ""
r "${WITH[@]}" "$SOCKSIFY" "$T/binary"
is "an executable binary that is no program: no sh noise, exit 126" 126 \
	"socksify: cannot run $T/binary: Exec format error" ""
r "${WITH[@]}" "$SOCKSIFY" "$T/missing"
is "a missing file: one line, exit 127" 127 "socksify: $T/missing: command not found" ""
ln -s "$T/nowhere" "$T/dangling"
r "${WITH[@]}" "$SOCKSIFY" "$T/dangling"
is "a dangling symlink: one line, exit 127" 127 \
	"socksify: cannot run $T/dangling: No such file or directory" ""

# A script without #! runs through sh, as execvp does ($0 is its path).
printf 'printf "%%s|" "$0" "$@"\n' >"$T/nosheb"; chmod +x "$T/nosheb"
r "${WITH[@]}" "$SOCKSIFY" "$T/nosheb" a 'b c'
is "a script without #! runs via sh with its arguments" 0 "" "$T/nosheb|a|b c|"

# PATH is searched as execvp searches it.
printf '#!/bin/sh\necho p2\n' >"$T/p2/cmd"; chmod +x "$T/p2/cmd"
printf 'echo p1\n' >"$T/p1/cmd"                 # no x bit
mkdir "$T/p3/cmd"                               # a directory
printf '#!/bin/sh\necho cwd\n' >"$T/adir/cmd"; chmod +x "$T/adir/cmd"
for p in ":/usr/bin" "/usr/bin:" "/usr/bin::/bin" "$T/p4::$T/p2"; do
	r env SOCKSIFY_PROXY=$URL bash -c 'cd "$1/adir" && PATH=$2 exec "$3" cmd' sh "$T" "$p" "$SOCKSIFY"
	is "PATH=$p: the empty element is the current directory" 0 "" cwd
done
r env SOCKSIFY_PROXY=$URL bash -c 'cd "$1/adir" && PATH=$1/p1:$1/p3:$1/p2 exec "$2" cmd' sh "$T" "$SOCKSIFY"
is "PATH: a file without x bit and a directory are passed over for a later program" 0 "" p2
r env SOCKSIFY_PROXY=$URL bash -c 'PATH=$1/p1:$1/p2 exec "$2" cmd' sh "$T" "$SOCKSIFY"
is "PATH: the first executable match wins" 0 "" p2
r env SOCKSIFY_PROXY=$URL bash -c 'PATH=$1/p4:$1/p1 exec "$2" cmd' sh "$T" "$SOCKSIFY"
is "PATH: only a file without x bit: EACCES as execvp, exit 126" 126 \
	"socksify: cannot run $T/p1/cmd: Permission denied" ""
r env SOCKSIFY_PROXY=$URL bash -c 'PATH=$1/p4:$1/p3 exec "$2" cmd' sh "$T" "$SOCKSIFY"
is "PATH: only a directory of that name: exit 126" 126 \
	"socksify: cannot run $T/p3/cmd: it is a directory" ""
r env SOCKSIFY_PROXY=$URL bash -c 'PATH=$1/p4 exec "$2" cmd' sh "$T" "$SOCKSIFY"
is "PATH: not found: exit 127" 127 "socksify: cmd: command not found" ""
r env SOCKSIFY_PROXY=$URL bash -c 'cd "$1/adir" && PATH=/usr/bin exec "$2" cmd' sh "$T" "$SOCKSIFY"
is "PATH without an empty element: the current directory is not searched" 127 \
	"socksify: cmd: command not found" ""
r "${WITH[@]}" "$SOCKSIFY" ''
is "an empty command name: not found, exit 127 (not a PATH directory)" 127 \
	"socksify: : command not found" ""

# A 32-bit program: the loader would skip the 64-bit library.
m32=""
if printf 'int main(void){return 7;}\n' | cc -m32 -x c -o "$T/prog32" - 2>/dev/null; then
	m32="cc -m32"
elif printf 'void _start(void){__asm__ volatile("movl $1,%%eax; movl $7,%%ebx; int $0x80");}\n' |
	cc -m32 -fno-pic -c -x c -o "$T/prog32.o" - 2>/dev/null &&
	[ -e /lib/ld-linux.so.2 ] &&
	ld -m elf_i386 -pie --dynamic-linker /lib/ld-linux.so.2 -o "$T/prog32" "$T/prog32.o" 2>/dev/null; then
	m32="cc -m32 -c, ld -m elf_i386"
fi
if [ -n "$m32" ] && [ "$(uname -m)" = x86_64 ]; then
	r "${WITH[@]}" "$SOCKSIFY" "$T/prog32"
	is "a 32-bit program ($m32) is refused, exit 126" 126 \
		"socksify: $T/prog32 is a 32-bit program of another architecture than libsocksify.so: the loader would skip the library (its traffic would go out directly)
socksify: not starting it; --force runs it anyway, unproxied" ""
	r "${WITH[@]}" "$SOCKSIFY" -q --force "$T/prog32"
	expect "a 32-bit program with --force runs (its status: 7)" [ "$RC" = 7 ]
	r "${WITH[@]}" "$SOCKSIFY" --force "$T/prog32"
	expect "a 32-bit program with --force: warned (UNPROXIED)" \
		grep -qx "socksify: warning: $T/prog32 is a 32-bit program .*; running it UNPROXIED (--force)" "$T/e"
else
	skip "32-bit program refused" "cannot build a 32-bit x86 program here (no gcc -m32 libraries, no 32-bit loader, or not x86_64)"
fi
# A program of the other byte order (binfmt_misc may run it under
# qemu-user, whose guest loader would skip our library): /bin/true made
# big-endian s390x in its header.  (The kernel ignores EI_DATA: with
# x86-64's e_machine it would run natively, unchecked before.)
"$PY" -c 'import sys; b = bytearray(open("/bin/true", "rb").read()); b[5] = 2; b[18:20] = b"\x00\x16"; open(sys.argv[1], "wb").write(b)' "$T/other-endian"
chmod +x "$T/other-endian"
r "${WITH[@]}" "$SOCKSIFY" "$T/other-endian"
is "a program of the other byte order is refused, exit 126" 126 \
	"socksify: $T/other-endian is a 64-bit program of another architecture than libsocksify.so: the loader would skip the library (its traffic would go out directly)
socksify: not starting it; --force runs it anyway, unproxied" ""
r "${WITH[@]}" "$SOCKSIFY" --force /bin/true
is "--force with a program that can be socksified: runs, says nothing" 0 "" ""

# A SOCKSIFY_LIB the loader cannot preload (not a shared object, or one cut
# short): the loader would say so on stderr and run the command unproxied.
printf 'not a library\n' >"$T/notlib.so"
head -c 64 "$LIBSOCKSIFY" >"$T/short.so"
for l in "$T/notlib.so" "$T/short.so"; do
	for m in /bin/echo --env --shell; do
		r "${WITH[@]}" SOCKSIFY_LIB="$l" SHELL=/bin/echo "$SOCKSIFY" -q $m
		is "SOCKSIFY_LIB=${l##*/} (no loadable library), $m: exit 125, nothing run" 125 \
			"socksify: cannot load $l: not a shared library the loader can preload (its traffic would go out directly)" ""
	done
done

# --- --env and --off in real shells -----------------------------------------
SHELLS="sh dash bash"
for s in zsh ksh mksh; do command -v $s >/dev/null 2>&1 && SHELLS="$SHELLS $s"; done
echo "launcher: shells for --env/--off: $SHELLS"
envq=$(LD_PRELOAD= "$SOCKSIFY" -q -x "$URL" --env)
offq=$(no_proxy "$SOCKSIFY" --off)
# In shell S, with LD_PRELOAD set to V (UNSET: unset): evaluate the --env
# lines twice, print LD_PRELOAD; then the --off lines, print it again and
# every SOCKSIFY_ variable left.  (Builtins only: nothing is preloaded.)
envoff='if [ "$1" != UNSET ]; then LD_PRELOAD=$1; export LD_PRELOAD; fi
SOCKSIFY_LOG_FILE=/x SOCKSIFY_BIND=never SOCKSIFY_ASYNC_CONNECT=no SOCKSIFY_LIB=/y
export SOCKSIFY_LOG_FILE SOCKSIFY_BIND SOCKSIFY_ASYNC_CONNECT SOCKSIFY_LIB
eval "$2"; eval "$2"; printf "%s\n" "${LD_PRELOAD-UNSET}"
eval "$3"; printf "%s\n" "${LD_PRELOAD-UNSET}"
for v in SOCKSIFY_PROXY SOCKSIFY_CONF SOCKSIFY_LOG_LEVEL SOCKSIFY_LOG_FILE SOCKSIFY_BIND SOCKSIFY_ASYNC_CONNECT SOCKSIFY_LIB _sfy_r _sfy_n _sfy_w; do
	eval "[ -z \"\${$v+x}\" ]" || printf "left %s\n" "$v"
done'
touch "$T/gA" "$T/gB" "$T/gC.so"
for s in $SHELLS; do
	for v in UNSET /lib/a.so "/lib/a.so /lib/b.so" "/lib/a.so:/lib/b.so" \
		"$T/g* $T/g?.so" "$T/g*:$T/[gx]?" "/a:/b /c" ":/a" "/a:" "/a::/b"; do
		if [ "$v" = UNSET ]; then want=$LIBSOCKSIFY; else want="$LIBSOCKSIFY $v"; fi
		r "$s" -c "$envoff" "$s" "$v" "$envq" "$offq"
		is "$s: --env twice gives [$want], then --off gives [$v] back, no SOCKSIFY_ left" 0 "" \
			"$want
$v"
	done
	# Ours already there (colon-separated): --env adds nothing.
	r "$s" -c "$envoff" "$s" "/a.so:$LIBSOCKSIFY:/b.so" "$envq" "$offq"
	is "$s: --env with ours already in a colon list adds nothing; --off takes it out" 0 "" \
		"/a.so:$LIBSOCKSIFY:/b.so
/a.so:/b.so"
	r "$s" -c 'eval "$1"; printf "%s|%s" "$SOCKSIFY_PROXY" "$SOCKSIFY_LOG_LEVEL"' "$s" "$envq"
	is "$s: --env exports SOCKSIFY_PROXY (and -q's level)" 0 "" "$URL|error"
done
r no_proxy "$SOCKSIFY" --off
expect "--off needs no configuration (no proxy anywhere): exit 0, nothing on stderr" \
	eval '[ "$RC" = 0 ] && [ ! -s "$T/e" ] && grep -q '\''unset LD_PRELOAD'\'' "$T/o"'
r no_proxy env SOCKSIFY_CONF="$T/bad.conf" "$SOCKSIFY" --off
is "--off with a broken config: still prints its lines" 0 "" "$(cat "$T/o")"
expect "--off with a broken config: the lines are there" grep -q 'unset LD_PRELOAD' "$T/o"
r env LD_PRELOAD= "$SOCKSIFY" -x socks5://127.0.0.1:1 --env /bin/true
is "--env with a command: refused before any warning" 125 "socksify: --env takes no command" ""
r no_proxy "$SOCKSIFY" --off /bin/true
is "--off with a command: refused" 125 "socksify: --off takes no command" ""

# --- --shell -----------------------------------------------------------------
r env SHELL=/bin/sh "${WITH[@]}" LD_PRELOAD= "$SOCKSIFY" -q --shell -c 'printf "%s|%s" "$LD_PRELOAD" "$0"'
is "--shell runs \$SHELL socksified, with the arguments after --shell" 0 "" "$LIBSOCKSIFY|/bin/sh"
r env -u SHELL "${WITH[@]}" LD_PRELOAD= "$SOCKSIFY" -q --shell -c 'printf "%s|%s" "$LD_PRELOAD" "$0"'
is "--shell without SHELL: /bin/sh" 0 "" "$LIBSOCKSIFY|/bin/sh"
r env SHELL= "${WITH[@]}" LD_PRELOAD= "$SOCKSIFY" -q --shell -c 'printf "%s" "$0"'
is "--shell with an empty SHELL: /bin/sh" 0 "" "/bin/sh"
r env SHELL=/bin/bash "${WITH[@]}" "$SOCKSIFY" -q --shell -c 'printf "%s" "$BASH_VERSION" | cut -c1'
expect "--shell with SHELL=/bin/bash runs bash" eval '[ "$RC" = 0 ] && [ -n "$(cat "$T/o")" ]'

# --- the traps --env and --shell warn about ----------------------------------
# A loopback port nothing listens on, and one a python listener holds.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
t = socket.socket(); t.bind(("127.0.0.1", 0))      # bound, never listening
open(sys.argv[1] + ".tmp", "w").write("%d %d\n" % (s.getsockname()[1], t.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)' "$T/ports" &
LPID=$!
for _ in $(seq 1 100); do [ -s "$T/ports" ] && break; sleep 0.05; done
read -r LPORT DPORT <"$T/ports"
DEAD=socks5://127.0.0.1:$DPORT LIVE=socks5://127.0.0.1:$LPORT
DEADW="socksify: warning: nothing listens at the proxy 127.0.0.1:$DPORT yet; a proxy started from this shell (ssh -D $DPORT, tor) would be socksified too and could not reach its own server: start it first, or as 'env -u LD_PRELOAD ssh -D $DPORT ...'"
r env LD_PRELOAD= "$SOCKSIFY" -x "$DEAD" --env
expect "--env, a loopback proxy nothing listens on: exit 0, the lines printed" eval '[ "$RC" = 0 ] && grep -q "SOCKSIFY_PROXY='\''$DEAD'\''" "$T/o"'
is "--env, a loopback proxy nothing listens on: warned once" 0 "$DEADW"
r env LD_PRELOAD= SHELL=/bin/sh "$SOCKSIFY" -x "$DEAD" --shell -c 'echo ran'
is "--shell, a loopback proxy nothing listens on: warned once, the shell runs" 0 "$DEADW" ran
r env LD_PRELOAD= "$SOCKSIFY" -x "socks5://localhost:$DPORT" --env
expect "--env, localhost:PORT nothing listens on: warned (as 127.0.0.1)" \
	eval '[ "$RC" = 0 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "^socksify: warning: nothing listens at the proxy localhost:$DPORT yet" "$T/e"'
r env LD_PRELOAD= "$SOCKSIFY" -q -x "$DEAD" --env
is "--env -q: no warning" 0 ""
r env LD_PRELOAD= SHELL=/bin/sh "$SOCKSIFY" -q -x "$DEAD" --shell -c 'echo ran'
is "--shell -q: no warning" 0 "" ran
r env LD_PRELOAD= "$SOCKSIFY" -x "$LIVE" --env
is "--env, a loopback proxy that listens: no warning" 0 ""
r env LD_PRELOAD= SHELL=/bin/sh "$SOCKSIFY" -x "$LIVE" --shell -c 'echo ran'
is "--shell, a loopback proxy that listens: no warning" 0 "" ran
r env LD_PRELOAD= "$SOCKSIFY" -x socks5://198.18.0.1:1 --env
is "--env, a proxy that is not on loopback: no probe, no warning" 0 ""
r env LD_PRELOAD= "$SOCKSIFY" -x "$DEAD" /bin/true
is "a plain run: no trap warning" 0 "" ""
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null
printf '' | cc -shared -fPIC -x c -o "$T/libproxychains4.so" -
PCW="socksify: warning: LD_PRELOAD already holds libproxychains ($T/libproxychains4.so): two SOCKS shims in one program fight over its sockets"
r env LD_PRELOAD="$T/libproxychains4.so" "$SOCKSIFY" -x socks5://198.18.0.1:1 --env
is "--env with libproxychains in LD_PRELOAD: warned once" 0 "$PCW"
r env LD_PRELOAD="$T/libproxychains4.so" SHELL=/bin/sh "$SOCKSIFY" -x socks5://198.18.0.1:1 --shell -c 'echo ran'
is "--shell with libproxychains in LD_PRELOAD: warned once" 0 "$PCW" ran
r env LD_PRELOAD="$T/libproxychains4.so" "$SOCKSIFY" -q -x socks5://198.18.0.1:1 --env
is "--env -q with libproxychains in LD_PRELOAD: no warning" 0 ""

# --- a password other users may read -----------------------------------------
printf 'proxy socks5://u:secret@127.0.0.1:1080\n' >"$T/pw.conf"
printf 'proxy socks5://127.0.0.1:1080\nusername u\npassword secret\n' >"$T/pw2.conf"
PWW="socksify: warning: config file $T/pw.conf holds a password and other users may read it (chmod o-r $T/pw.conf)"
chmod 0644 "$T/pw.conf"
r no_proxy "$SOCKSIFY" -f "$T/pw.conf" /bin/echo ran
is "a password in a 0644 config (URL): one warning naming the file; the command runs" 0 "$PWW" ran
chmod 0644 "$T/pw2.conf"
r no_proxy "$SOCKSIFY" -f "$T/pw2.conf" /bin/echo ran
is "a password in a 0644 config (password key): one warning" 0 \
	"socksify: warning: config file $T/pw2.conf holds a password and other users may read it (chmod o-r $T/pw2.conf)" ran
r no_proxy "$SOCKSIFY" -q -f "$T/pw.conf" /bin/echo ran
is "a password in a 0644 config with -q: no warning" 0 "" ran
chmod 0600 "$T/pw.conf"
r no_proxy "$SOCKSIFY" -f "$T/pw.conf" /bin/echo ran
is "a password in a 0600 config: no warning" 0 "" ran
chmod 0644 "$T/ok.conf"
r no_proxy "$SOCKSIFY" -f "$T/ok.conf" /bin/echo ran
is "no password in a 0644 config: no warning" 0 "" ran

# --- --explain ----------------------------------------------------------------
cat >"$T/ex.conf" <<'EOF'
proxy socks5://127.0.0.1:1080
route direct localhost
route direct 10.0.0.0/8 80-443
route refuse all 25
route direct intra.example 443
route direct 2001:db8::/32
EOF
sed '1s,.*,proxy socks5h://127.0.0.1:1080,' "$T/ex.conf" >"$T/exh.conf"
X=$T/ex.conf XH=$T/exh.conf
BUILTIN="built-in: loopback and the unspecified address stay on this machine"
DIRECT="connects directly, as without socksify"
REFUSE="connect() fails with EACCES; nothing is sent"
PROXY="carried through the proxy"
ex() { r no_proxy "$SOCKSIFY" -f "$1" --explain "$2"; }
ex "$X" 10.1.2.3:80
is "--explain: an address rule with ports, FILE:LINE" 0 "" \
	"address 10.1.2.3 port 80: direct ($X:3: route direct 10.0.0.0/8 80-443): $DIRECT"
ex "$X" 10.1.2.3:8080
is "--explain: no rule matches" 0 "" "address 10.1.2.3 port 8080: proxy (no rule matches: the default): $PROXY"
ex "$X" 10.1.2.3:25
is "--explain: refuse" 0 "" "address 10.1.2.3 port 25: refuse ($X:4: route refuse all 25): $REFUSE"
ex "$X" 127.0.0.1:8080
is "--explain: the built-in loopback rule" 0 "" "address 127.0.0.1 port 8080: direct ($BUILTIN): $DIRECT"
ex "$X" 127.0.0.1:25
is "--explain: a rule before the built-in loopback one" 0 "" "address 127.0.0.1 port 25: refuse ($X:4: route refuse all 25): $REFUSE"
ex "$X" '[::1]:8080'
is "--explain: IPv6 loopback" 0 "" "address [::1] port 8080: direct ($BUILTIN): $DIRECT"
ex "$X" 0.0.0.0:80
is "--explain: the unspecified address" 0 "" "address 0.0.0.0 port 80: direct ($BUILTIN): $DIRECT"
ex "$X" '[2001:db8::1]:80'
is "--explain: an IPv6 rule" 0 "" "address [2001:db8::1] port 80: direct ($X:6: route direct 2001:db8::/32): $DIRECT"
ex "$X" 2001:db8::1
is "--explain: a bare IPv6 literal, no port" 0 "" \
	"(no port given: a name is judged as a lookup is, where rules for some ports match too; an address only by rules for every port; give HOST:PORT)
address [2001:db8::1] port 0: direct ($X:6: route direct 2001:db8::/32): $DIRECT"
addrs=$(getent ahosts localhost | awk '$2 == "STREAM" {print $1}')
want="name localhost: resolved on this machine by libc (dns local); connections go to its addresses, which the address rules judge (host rules apply with dns remote or tunnel only)"
for a in $addrs; do
	case $a in *:*) a="[$a]" ;; esac
	want="$want
address $a port 8080: direct ($BUILTIN): $DIRECT"
done
ex "$X" localhost:8080
is "--explain: a name with dns local: resolved here, each address by the address rules" 0 "" "$want"
ex "$XH" localhost:8080
want="name localhost port 8080: direct ($XH:2: route direct localhost): $DIRECT
name localhost: every port of it goes direct, so it is resolved on this machine by libc and its connections follow this rule"
for a in $addrs; do
	case $a in *:*) a="[$a]" ;; esac
	want="$want
address $a port 8080: as the name ($XH:2: route direct localhost)"
done
is "--explain: a host rule for every port with dns remote: resolved here, FILE:LINE" 0 "" "$want"
ex "$XH" intra.example:443
is "--explain: a host rule with a port, dns remote" 0 "" \
	"name intra.example port 443: direct ($XH:5: route direct intra.example 443): $DIRECT
name intra.example: not resolved on this machine (dns remote): the program gets a placeholder address, and connect() resolves it here at that port and connects directly"
ex "$XH" intra.example:80
is "--explain: the same name at another port goes to the proxy, which resolves it" 0 "" \
	"name intra.example port 80: proxy (no host rule matches: the default): $PROXY
name intra.example: not resolved on this machine (dns remote): the program gets a placeholder address, and connect() sends the name to the proxy, which resolves it"
ex "$XH" www.example.com:25
is "--explain: a name refused by an 'all' rule" 0 "" \
	"name www.example.com port 25: refuse ($XH:4: route refuse all 25): $REFUSE
name www.example.com: not resolved on this machine (dns remote): the program gets a placeholder address, and connect() fails with EACCES"
for bad in "host:0|the port is not a number from 1 to 65535" "host:99999|the port is not a number from 1 to 65535" \
	"host:|the port is not a number from 1 to 65535" "[::1|a '[' without its ']'" "[::1]x|text after ']' that is not :PORT" "|no host"; do
	ex "$X" "${bad%%|*}"
	is "--explain '${bad%%|*}': exit 125" 125 "socksify: --explain ${bad%%|*}: ${bad#*|}" ""
done
r no_proxy "$SOCKSIFY" --explain 10.1.2.3:80
is "--explain with no proxy configured: exit 125" 125 "socksify: no proxy configured (use socksify -x URL, SOCKSIFY_PROXY or a config file)" ""

# --- --check without a network: the usage errors -------------------------------
for bad in "host|give HOST:PORT" "host:0|the port is not a number from 1 to 65535" "[::1]x|text after ']' that is not :PORT"; do
	r "$SOCKSIFY" -x socks5://127.0.0.1:1 --check "${bad%%|*}"
	is "--check '${bad%%|*}': exit 125" 125 "socksify: --check ${bad%%|*}: ${bad#*|}" ""
done
r "$SOCKSIFY" -x socks5://127.0.0.1:1 --check 10.1.2.3:80 /bin/true
is "--check with a command: refused" 125 "socksify: --check takes no command (see socksify --help)" ""
r no_proxy "$SOCKSIFY" -f "$T/bad.conf" --check
is "--check with a broken config: exit 125, FILE:LINE" 125 "" \
	"FAIL  config: $T/bad.conf:2: bad timeout 'banana' (expected seconds, e.g. 2.5)"
r no_proxy env SOCKSIFY_BIND=bogus "$SOCKSIFY" -x "$URL" --check
is "--check with a bad SOCKSIFY_BIND: exit 125, the variable named" 125 "" \
	"FAIL  config: SOCKSIFY_BIND: bad value 'bogus' (expected auto, always or never)"

summary launcher
