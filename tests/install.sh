#!/bin/bash
# make install / make uninstall (into a staging tree and into a scratch
# PREFIX), the shadowing note, the bash completion, and the Debian package:
# built in a copy of the tree (dpkg-buildpackage runs `make clean`), linted,
# installed beside dante-client in both orders (Dante's socksify diverted
# to socksify.dante), purged.  Leaves the machine as it found it: a trap
# purges our package and reinstalls dante-client if the test removed it.
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d)
PKG_OURS=      # set once this test has installed the package
DANTE_DEB=     # dante-client's .deb, found before the test removes it
DANTE_REMOVED= # set while this test has dante-client removed
# True if dpkg has package $1 in any state but not-installed.
pkg_present() {
	local s
	s=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) && [ "${s##* }" != not-installed ]
}
cleanup() {
	if [ -n "$PKG_OURS" ] && pkg_present socksify; then
		dpkg --purge socksify >>"$T/cleanup.log" 2>&1 ||
			echo "install.sh: could not purge socksify (see dpkg -l socksify)" >&2
	fi
	if [ -n "$DANTE_REMOVED" ]; then
		dpkg -i "$DANTE_DEB" >>"$T/cleanup.log" 2>&1 ||
			echo "install.sh: could not reinstall dante-client from $DANTE_DEB" >&2
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The upstream version, as debian/changelog has it: the launcher must agree.
VERSION=$(sed -n '1s/^[^(]*(\([^-)]*\).*/\1/p' "$TOP/debian/changelog")
# A make or dpkg-buildpackage started from here gets its own settings.
unset MAKEFLAGS MFLAGS MAKELEVEL DEB_BUILD_OPTIONS
SYSPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# True if readelf shows no .debug_* section in $1.
no_debug() { ! readelf -S --wide "$1" | grep -q '\.debug_'; }
is_elf() { [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
# Prints man's warnings for a page file (nothing when it is clean).
man_warnings() { MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null; }
# The words bash completion offers for the command line $2 (completed at
# its end) with completion file $1; COMP_WORDS split as readline does.
complete_line() {
	bash -c '
		. /usr/share/bash-completion/bash_completion || exit 1
		. "$1" || exit 1
		COMP_LINE=$2 COMP_POINT=${#2} COMP_WORDS=() w=
		for ((k = 0; k < ${#COMP_LINE}; k++)); do
			c=${COMP_LINE:k:1}
			case $c in
			" ") [ -n "$w" ] && COMP_WORDS+=("$w"); w= ;;
			[:=]) [ -n "$w" ] && COMP_WORDS+=("$w"); COMP_WORDS+=("$c"); w= ;;
			*) w+=$c ;;
			esac
		done
		COMP_WORDS+=("$w")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		compopt() { :; }
		_socksify socksify "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' complete_line "$1" "$2" 2>/dev/null
}

# --- make install DESTDIR=... --------------------------------------------

S=$T/stage
if ! make -C "$TOP" -s install DESTDIR="$S" PREFIX=/usr/local >"$T/install.log" 2>&1; then
	fail "make install DESTDIR=$S PREFIX=/usr/local"
	cat "$T/install.log"
	summary install
	exit
fi
pass "make install DESTDIR=... PREFIX=/usr/local"
expect "with DESTDIR, no PATH note (though /usr/bin/socksify may exist)" \
	bash -c "! grep -q 'make install:' '$T/install.log'"

cat >"$T/expected" <<EOF
644 usr/local/lib/socksify/libsocksify.so
644 usr/local/share/bash-completion/completions/socksify
644 usr/local/share/doc/socksify/README.md
644 usr/local/share/doc/socksify/socks.conf.example
644 usr/local/share/man/man1/socksify.1
644 usr/local/share/man/man5/socks.conf.5
755 usr/local/bin/socksify
EOF
(cd "$S" && find . ! -type d -printf '%m %P\n' | LC_ALL=C sort) >"$T/got"
LC_ALL=C sort -o "$T/expected" "$T/expected"
if cmp -s "$T/expected" "$T/got"; then
	pass "the staging tree holds exactly the expected files, with their modes"
else
	fail "the staging tree holds exactly the expected files, with their modes"
	diff "$T/expected" "$T/got"
fi
expect "its directories are 0755" [ -z "$(find "$S" -type d ! -perm 0755)" ]

SLIB=$S/usr/local/lib/socksify/libsocksify.so
SBIN=$S/usr/local/bin/socksify
expect "the installed library has no debug sections" no_debug "$SLIB"
expect "the build tree's library keeps its debug sections" \
	bash -c "readelf -S --wide '$LIBSOCKSIFY' | grep -q '\.debug_info'"
if is_elf "$SBIN"; then
	expect "the installed launcher has no debug sections" no_debug "$SBIN"
else
	expect "the installed launcher is the shell script (nothing to strip)" \
		[ "$(head -c2 "$SBIN")" = '#!' ]
fi
expect "the installed launcher has the installed library's directory built in" \
	grep -qaF /usr/local/lib/socksify "$SBIN"
out=$("$SBIN" --version 2>&1)
expect "the installed launcher's --version: 'socksify $VERSION'" [ "$out" = "socksify $VERSION" ]
out=$("$SBIN" --help 2>&1)
expect "the installed launcher's --help" grep -q -- '--proxy' <<<"$out"
out=$(env -u LD_PRELOAD SOCKSIFY_LIB="$SLIB" "$SBIN" -x socks5://127.0.0.1:9 \
	/bin/sh -c 'printf %s "$LD_PRELOAD"' 2>&1)
expect "the installed launcher runs a command with the stripped library (SOCKSIFY_LIB)" \
	[ "$out" = "$SLIB" ]

for m in man1/socksify.1 man5/socks.conf.5; do
	f=$S/usr/local/share/man/$m
	w=$(man_warnings "$f")
	expect "man -l $m renders without warnings" [ -z "$w" ]
	[ -z "$w" ] || printf '%s\n' "$w" | head -5
	expect "man -l $m renders its NAME" \
		bash -c "MANWIDTH=80 man -l '$f' 2>/dev/null | grep -q '^NAME'"
	expect "$m names the installed socks.conf.example" \
		grep -qF /usr/local/share/doc/socksify/socks.conf.example "$f"
done
for f in man/socksify.1 man/socks.conf.5; do
	expect "groff -man -ww -z $f: no warnings" \
		[ -z "$(groff -man -ww -z "$TOP/$f" 2>&1)" ]
done
expect "socks.conf.example is installed unchanged" \
	cmp -s "$TOP/socks.conf.example" "$S/usr/local/share/doc/socksify/socks.conf.example"
expect "the installed socks.conf.example parses (launcher and library agree)" \
	env SOCKSIFY_LIB="$SLIB" "$SBIN" -f "$S/usr/local/share/doc/socksify/socks.conf.example" \
	-x socks5://127.0.0.1:9 /bin/true

# The bash completion, as bash-completion loads it.
COMP=$S/usr/local/share/bash-completion/completions/socksify
if [ -r /usr/share/bash-completion/bash_completion ]; then
	out=$(complete_line "$COMP" 'socksify --ver')
	expect "completion: --ver offers --verbose and --version" \
		[ "$out" = $'--verbose\n--version' ]
	out=$(complete_line "$COMP" 'socksify --sh')
	expect "completion: --sh offers --shell" [ "$out" = --shell ]
	out=$(complete_line "$COMP" 'socksify -')
	want=$("$SBIN" --help | grep -oE -- '^ +(-[a-zA-Z], )?--[a-z0-9]+' |
		sed 's/,//' | xargs printf '%s\n' | sort)
	expect "completion: 'socksify -' offers exactly --help's options and --" \
		[ "$(printf '%s\n' "$out" | grep -vx -- -- | sort)" = "$want" ]
	out=$(complete_line "$COMP" 'socksify -x socks5://127.0.0.1:1080 -q ls --al')
	expect "completion: after the options, the command's own completion (ls --al)" \
		grep -qx -- --all <<<"$out"
	out=$(complete_line "$COMP" 'socksify -- ech')
	expect "completion: after --, command names (echo)" grep -qx echo <<<"$out"
	out=$(cd "$TOP" && complete_line "$COMP" 'socksify -f socks.conf.ex')
	expect "completion: -f completes file names" [ "$out" = socks.conf.example ]
	out=$(complete_line "$COMP" 'socksify --proxy ')
	expect "completion: -x/--proxy offers the schemes" [ "$out" = $'socks5://\nsocks5h://' ]
else
	skip "bash completion" "bash-completion is not installed"
fi

# --- make uninstall DESTDIR=... ------------------------------------------

make -C "$TOP" -s uninstall DESTDIR="$S" >"$T/uninstall.log" 2>&1
expect "make uninstall DESTDIR=... succeeds" [ $? = 0 ]
expect "make uninstall leaves no file" [ -z "$(find "$S" ! -type d 2>/dev/null)" ]
expect "make uninstall removes the directories install created" [ ! -e "$S" ]
expect "make uninstall forgets them (build/install/created-dirs)" \
	bash -c "! grep -qF '$S' '$TOP/build/install/created-dirs' 2>/dev/null"

# A directory that was there before install stays.
mkdir -p "$T/stage2/usr/local/bin" "$T/stage2/usr/local/share/man"
make -C "$TOP" -s install DESTDIR="$T/stage2" PREFIX=/usr/local >"$T/install2.log" 2>&1 &&
	make -C "$TOP" -s uninstall DESTDIR="$T/stage2" PREFIX=/usr/local >>"$T/install2.log" 2>&1
expect "make uninstall keeps directories that existed before install" \
	[ "$(cd "$T/stage2" && find . | LC_ALL=C sort | tr '\n' ' ')" = \
		". ./usr ./usr/local ./usr/local/bin ./usr/local/share ./usr/local/share/man " ]

# --- make install to a real PREFIX: the PATH note --------------------------

P=$T/prefix
mkdir -p "$T/early" "$T/late"
printf '#!/bin/sh\necho fake\n' >"$T/early/socksify"
cp "$T/early/socksify" "$T/late/socksify"
chmod 0755 "$T/early/socksify" "$T/late/socksify"

PATH="$T/early:$P/bin:$SYSPATH" make -C "$TOP" -s install PREFIX="$P" >"$T/out" 2>"$T/err"
expect "install with another socksify earlier on PATH: exit 0" [ $? = 0 ]
expect "... one line on stderr" [ "$(grep -c . "$T/err")" = 1 ]
expect "... naming the socksify that shadows the new one" \
	grep -q "$T/early/socksify comes before $P/bin on PATH" "$T/err"
cat "$T/err"

PATH="$P/bin:$T/late:$SYSPATH" make -C "$TOP" -s install PREFIX="$P" >"$T/out" 2>"$T/err"
expect "install shadowing another socksify later on PATH: exit 0" [ $? = 0 ]
expect "... one line on stderr" [ "$(grep -c . "$T/err")" = 1 ]
expect "... naming the socksify the new one shadows" \
	grep -q "$P/bin/socksify installed now comes before $T/late/socksify on PATH" "$T/err"
cat "$T/err"

make -C "$TOP" -s uninstall PREFIX="$P" >"$T/out" 2>&1
expect "make uninstall PREFIX=... removes it all" [ ! -e "$P" ]

# --- the Debian package ------------------------------------------------------

package_tests() {
	local tool
	for tool in dpkg-buildpackage dh lintian; do
		if ! command -v $tool >/dev/null; then
			skip "the Debian package" "$tool missing (packages dpkg-dev, debhelper, lintian)"
			return
		fi
	done
	if [ "$(id -u)" != 0 ]; then
		skip "the Debian package" "dpkg -i needs root"
		return
	fi
	if pkg_present socksify; then
		skip "the Debian package" "a socksify package is installed here already: not touching it"
		return
	fi
	local dante=
	if dpkg-query -W -f='${Status}' dante-client 2>/dev/null | grep -q 'ok installed'; then
		dante=1
		if [ -n "$(dpkg-divert --listpackage /usr/bin/socksify)" ] ||
			[ -n "$(dpkg -V dante-client)" ]; then
			fail "dante-client's /usr/bin/socksify is diverted or changed before the test"
			return
		fi
		cp /usr/bin/socksify "$T/dante.bin"
		cp /usr/share/man/man1/socksify.1.gz "$T/dante.man"
	else
		skip "the Debian package beside dante-client" "dante-client is not installed"
	fi
	local man=1
	if grep -hqs '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
		man=
		skip "the package's man pages" "dpkg excludes /usr/share/man here (path-exclude)"
	fi

	# Build it in a copy: dpkg-buildpackage runs debian/rules clean.
	local src=$T/pkg/src
	mkdir -p "$src"
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$TOP" && git ls-files -z -co --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -cf -) | tar -xf - -C "$src"
	else
		tar -C "$TOP" --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$src"
	fi
	if ! (cd "$src" && dpkg-checkbuilddeps) >"$T/pkg/deps.log" 2>&1; then
		skip "the Debian package" "$(tail -1 "$T/pkg/deps.log")"
		return
	fi
	if (cd "$src" && dpkg-buildpackage -us -uc -b -Jauto) >"$T/pkg/build.log" 2>&1; then
		pass "dpkg-buildpackage -us -uc -b (in a copy of the tree)"
	else
		fail "dpkg-buildpackage -us -uc -b (in a copy of the tree)"
		tail -30 "$T/pkg/build.log"
		return
	fi
	expect "the package build ran the unit tests" grep -q '^== unit: ' "$T/pkg/build.log"
	local deb
	deb=$(find "$T/pkg" -maxdepth 1 -name 'socksify_*.deb' | head -1)
	expect "a socksify .deb was built" [ -f "$deb" ]
	[ -f "$deb" ] || return
	lintian "$T"/pkg/socksify_*.changes >"$T/pkg/lintian.log" 2>&1
	grep -E '^[EW]: ' "$T/pkg/lintian.log"
	expect "lintian: no errors" bash -c "! grep -q '^E: ' '$T/pkg/lintian.log'"
	expect "Depends from \${shlibs:Depends}: libc6" \
		bash -c "dpkg-deb -f '$deb' Depends | grep -q libc6"

	local files=$T/pkg/files
	pkg_install() {
		PKG_OURS=1
		dpkg -i "$deb" >"$T/pkg/dpkg.log" 2>&1 ||
			{ cat "$T/pkg/dpkg.log"; return 1; }
		dpkg -L socksify >"$files"
	}
	# After dpkg --purge: none of our files is left, no diversion, and
	# Dante's files are back under their names, unchanged.
	pkg_purged() {
		local f bad=
		while IFS= read -r f; do
			case $f in
			/.) continue ;;
			/usr/bin/socksify | /usr/share/man/man1/socksify.1.gz)
				[ -n "$dante" ] && continue ;;
			esac
			# A directory may stay if another package owns it.
			if [ -d "$f" ]; then
				dpkg -S "$f" >/dev/null 2>&1 || bad="$bad $f"
			elif [ -e "$f" ] || [ -L "$f" ]; then
				bad="$bad $f"
			fi
		done <"$files"
		expect "$1: no file of ours is left${bad:+ (left:$bad)}" [ -z "$bad" ]
		expect "$1: no diversion by socksify is left" \
			[ -z "$(dpkg-divert --list | grep ' by socksify$')" ]
		if [ -n "$dante" ]; then
			expect "$1: Dante's /usr/bin/socksify is back, byte-identical" \
				cmp -s /usr/bin/socksify "$T/dante.bin"
			expect "$1: Dante's socksify(1) is back, byte-identical" \
				cmp -s /usr/share/man/man1/socksify.1.gz "$T/dante.man"
			expect "$1: dpkg --verify dante-client is clean" [ -z "$(dpkg -V dante-client)" ]
			expect "$1: no socksify.dante is left" [ ! -e /usr/bin/socksify.dante ]
		fi
	}

	# 1. dante-client installed first (it is, when $dante), then ours.
	if pkg_install; then
		pass "dpkg -i the package"
	else
		fail "dpkg -i the package"
		return
	fi
	out=$(/usr/bin/socksify --version 2>&1)
	expect "/usr/bin/socksify --version: 'socksify $VERSION'" [ "$out" = "socksify $VERSION" ]
	expect "/usr/bin/socksify --help" bash -c '/usr/bin/socksify --help | grep -q -- --proxy'
	out=$(cd / && env -u LD_PRELOAD socksify -x socks5://127.0.0.1:9 /bin/sh -c 'printf %s "$LD_PRELOAD"')
	expect "socksify -x URL CMD exits 0 under the package" [ $? = 0 ]
	expect "... with LD_PRELOAD=/usr/lib/socksify/libsocksify.so, which exists" \
		bash -c '[ "$1" = /usr/lib/socksify/libsocksify.so ] && [ -f "$1" ]' _ "$out"
	# --check against a real proxy on loopback: microsocks carries CONNECT
	# only, so the handshake passes and UDP ASSOCIATE and BIND do not (1).
	if command -v microsocks >/dev/null; then
		mport=$((20000 + RANDOM % 20000))
		microsocks -i 127.0.0.1 -p "$mport" >/dev/null 2>&1 &
		mpid=$!
		for _ in $(seq 50); do
			(exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break
			sleep 0.1
		done
		cout=$(cd / && env -u LD_PRELOAD /usr/bin/socksify -x "socks5://127.0.0.1:$mport" --check 2>&1)
		crc=$?
		kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null
		expect "/usr/bin/socksify --check against microsocks: exit 1 (TCP yes, UDP and BIND no; was $crc)" [ "$crc" = 1 ]
		expect "... reaches it and gets its method" \
			grep -q '^ok    method: the proxy chose no authentication$' <<<"$cout"
		expect "... UDP ASSOCIATE and BIND refused" \
			bash -c '[ "$(grep -c "^no    \(UDP ASSOCIATE\|BIND\) " <<<"$1")" = 2 ]' _ "$cout"
	else
		skip "socksify --check under the package" "microsocks is not installed"
	fi
	expect "the packaged library has no debug sections" no_debug /usr/lib/socksify/libsocksify.so
	expect "the bash completion is installed" \
		[ -f /usr/share/bash-completion/completions/socksify ]
	expect "socks.conf.example is in /usr/share/doc/socksify, uncompressed" \
		[ -f /usr/share/doc/socksify/socks.conf.example ]
	if [ -n "$man" ]; then
		expect "man -w socksify: ours" [ "$(man -w socksify 2>/dev/null)" = /usr/share/man/man1/socksify.1.gz ]
		expect "man -w socks.conf" [ "$(man -w 5 socks.conf 2>/dev/null)" = /usr/share/man/man5/socks.conf.5.gz ]
		expect "man socksify renders without warnings" \
			[ -z "$(MANWIDTH=80 man --warnings 1 socksify 2>&1 >/dev/null)" ]
		expect "man socks.conf renders without warnings" \
			[ -z "$(MANWIDTH=80 man --warnings 5 socks.conf 2>&1 >/dev/null)" ]
		expect "socksify(1) names /usr/share/doc/socksify/socks.conf.example" \
			bash -c 'zcat /usr/share/man/man1/socksify.1.gz | grep -qF /usr/share/doc/socksify/socks.conf.example'
	fi
	if [ -n "$dante" ]; then
		expect "Dante's script is diverted to /usr/bin/socksify.dante, unchanged" \
			cmp -s /usr/bin/socksify.dante "$T/dante.bin"
		out=$(env -u LD_PRELOAD socksify.dante /bin/sh -c 'printf %s "$LD_PRELOAD"')
		expect "socksify.dante runs Dante's library (libdsocks)" grep -q libdsocks <<<"$out"
		expect "Dante's manual page is socksify.dante(1)" \
			cmp -s "$(man -w socksify.dante 2>/dev/null)" "$T/dante.man"
		expect "dpkg --verify dante-client is clean (diverted)" [ -z "$(dpkg -V dante-client)" ]
	fi
	dpkg --purge socksify >"$T/pkg/purge.log" 2>&1
	expect "dpkg --purge socksify" [ $? = 0 ]
	PKG_OURS=
	pkg_purged "purge (Dante first)"

	# 2. Ours first, dante-client unpacked after it.
	[ -n "$dante" ] || return
	# The installed version's .deb, to put it back: apt's cache, or apt.
	local ver
	ver=$(dpkg-query -W -f='${Version}' dante-client)
	mkdir -p "$T/dante"
	cp /var/cache/apt/archives/dante-client_"${ver/:/%3a}"_*.deb "$T/dante/" 2>/dev/null ||
		(cd "$T/dante" && apt-get download -qq "dante-client=$ver") >/dev/null 2>&1
	DANTE_DEB=$(find "$T/dante" -name 'dante-client_*.deb' | head -1)
	if [ -z "$DANTE_DEB" ] || [ "$(dpkg-deb -f "$DANTE_DEB" Version)" != "$ver" ]; then
		skip "the package installed before dante-client" "no dante-client $ver .deb to reinstall it from"
		return
	fi
	if ! dpkg -r dante-client >"$T/pkg/dante.log" 2>&1; then
		skip "the package installed before dante-client" "dpkg -r dante-client failed"
		return
	fi
	DANTE_REMOVED=1
	expect "ours first: dpkg -i the package" pkg_install
	if dpkg -i "$DANTE_DEB" >"$T/pkg/dante.log" 2>&1; then
		DANTE_REMOVED=
		pass "ours first: dpkg -i dante-client after it"
	else
		fail "ours first: dpkg -i dante-client after it"
		return
	fi
	out=$(/usr/bin/socksify --version 2>&1)
	expect "ours first: /usr/bin/socksify is still ours" [ "$out" = "socksify $VERSION" ]
	expect "ours first: Dante's script went to /usr/bin/socksify.dante" \
		cmp -s /usr/bin/socksify.dante "$T/dante.bin"
	expect "ours first: Dante's manual page went to socksify.dante.1.gz" \
		cmp -s /usr/share/man/man1/socksify.dante.1.gz "$T/dante.man"
	dpkg --purge socksify >"$T/pkg/purge.log" 2>&1
	expect "ours first: dpkg --purge socksify" [ $? = 0 ]
	PKG_OURS=
	pkg_purged "purge (ours first)"
}
package_tests

summary install
