#!/bin/bash
# The launcher: options, LD_PRELOAD handling, config checking, and refusing
# commands the loader would run unproxied.  No network needed.
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
URL=socks5://127.0.0.1:1080

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

# A statically linked program: refused, unless --force.
if printf 'int main(void){return 0;}\n' | cc -static -x c -o "$T/static" - 2>/dev/null; then
	"$SOCKSIFY" -x $URL "$T/static" 2>"$T/err"
	rc=$?
	expect "a static binary is refused (exit 126)" [ $rc = 126 ]
	expect "a static binary: the reason is given" grep -q "statically linked" "$T/err"
	"$SOCKSIFY" -x $URL --force "$T/static" 2>"$T/err"
	rc=$?
	expect "a static binary with --force runs" [ $rc = 0 ]
	expect "a static binary with --force is warned about" grep -q "UNPROXIED" "$T/err"
	printf '#!/usr/bin/env -S %s -x\n' "$T/static" >"$T/envs"; chmod +x "$T/envs"
	"$SOCKSIFY" -x $URL "$T/envs" 2>"$T/err"
	expect "a #!/usr/bin/env -S script with a static interpreter is refused" [ $? = 126 ]
	printf '#!%s\n' "$T/static" >"$T/direct"; chmod +x "$T/direct"
	"$SOCKSIFY" -x $URL "$T/direct" 2>"$T/err"
	expect "a #! script with a static interpreter is refused" [ $? = 126 ]
else
	skip "static binary detection" "cannot link statically here"
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
envout=$(LD_PRELOAD= "$SOCKSIFY" -x "socks5://a'b:c@127.0.0.1:1080" --env)
got=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 sh -c "$envout"'
printf "%s|%s" "$LD_PRELOAD" "$SOCKSIFY_PROXY"')
expect "--env output evaluates to our LD_PRELOAD before the old one" \
	[ "${got%%|*}" = "$LIBSOCKSIFY /lib/x86_64-linux-gnu/libc.so.6" ]
expect "--env quotes the proxy URL" [ "${got#*|}" = "socks5://a'b:c@127.0.0.1:1080" ]

expect "--help says how to use it" sh -c "'$SOCKSIFY' --help | grep -q 'Usage: socksify'"
expect "--version prints a version" sh -c "'$SOCKSIFY' --version | grep -Eq '^socksify [0-9]'"
"$SOCKSIFY" --bogus >/dev/null 2>&1
expect "an unknown option: exit 125" [ $? = 125 ]

summary launcher
