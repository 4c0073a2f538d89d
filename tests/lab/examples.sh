#!/bin/bash
# tests/lab/examples.sh - every example command line of README.md and
# socksify(1), run in the namespace lab (see lab.sh) as the documents write
# it, changed only by the substitution table below (issue 10).
#
# The examples are read from the documents at run time (docexamples.py: the
# lines of code blocks, code spans and man font lines that start with
# "socksify ", "$ socksify ", "eval ", "exec socksify ", "ssh -N -D" or
# "env -u LD_PRELOAD ssh").  Each one must be in EXAMPLES (how it runs here)
# or in NOT_RUN (why it cannot run in the lab): one in neither fails as
# "example not covered: LINE", and so does a table entry that no document
# holds any more.  What each example must show is what the documents say:
# the page arrives through the proxy; the --env lines give the documented
# LD_PRELOAD in dash and bash, once however often they are evaluated, and
# --off takes it out again; --check's exit status and the lines a document
# shows; --explain's lines, literally.  Besides: socksify --help and
# socksify(1)'s OPTIONS name the same options, and README's route block is
# a configuration whose every rule decides what the README says.
#
#   tests/lab/examples.sh      uses ./socksify (build it first: make all)
#   LAB_KEEP=1                 keep the temp dir (logs, every output)
#   LAB_VERBOSE=1              print every command's output
#   EXAMPLES_WITHOUT="sshd git openssl"
#                              run as if those were not installed
#
# The lab is lab.sh's, plus: a TLS server (443) on the target for the
# https examples (a certificate made here with openssl; without openssl
# https:// becomes http://), a dumb-HTTP git server (8080) on the target
# for the git example, and, when openssh-server is installed, sshd on the
# border (the "jumphost" of ssh -D) and on the target (the "host" of
# "ssh host").  Without sshd the ssh examples print "not run: ..." and
# 127.0.0.1:1080 is danted; without git the git example is not run.
# Needs root and ip netns; otherwise the examples are skipped (a failure in
# CI), after the checks that need no lab.
# Ends with "examples: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

DOCX=$HERE/docexamples.py
DOCS="README.md man/socksify.1"   # relative to TOP, as the messages show them
OUT=""

# ---------------------------------------------------------------- the tables
# EXAMPLES: an example line, as docexamples.py prints it => the h_* function
# that runs it (see "handlers" below).  (SC2016: the keys are literal text.)
# shellcheck disable=SC2016
declare -A EXAMPLES=(
	['socksify -x socks5://proxy.example:1080 curl https://example.org/']=fetch
	['socksify -x socks5://127.0.0.1:1080 wget https://example.org/']=fetch
	['socksify -x socks5://alice:s3cret@proxy.corp.example:1080 ssh host']=ssh_host
	['socksify -f ~/work-proxy.conf python3 client.py']=fetch
	['ssh -N -D 1080 jumphost &']=tunnel
	['socksify -x socks5h://127.0.0.1:1080 curl http://intranet.example/']=fetch
	['socksify --env']=env
	['socksify -x socks5://127.0.0.1:1080 --env']=env
	['eval "$(socksify --off)"']=off
	['socksify -x URL --shell']=shell
	["socksify --shell -c 'git fetch && git pull'"]=git_pull
	['env -u LD_PRELOAD ssh -N -D 1080 jumphost']=tunnel_from_shell
	['exec socksify -f /etc/legacy-app/socks.conf /opt/legacy/bin/app "$@"']=wrapper
	['socksify --check [HOST:PORT]']=check
	['socksify -x socks5h://127.0.0.1:1080 --check example.org:80']=check
	['socksify --explain HOST[:PORT]']=explain
	['socksify -f ~/work.conf --explain 10.1.2.3:80']=explain
	['socksify -f ~/work.conf --explain mail.example.org:25']=explain
	['eval "$(socksify -x URL --env)"']=env
	['socksify -x socks5://127.0.0.1:1080 curl http://example.org/']=fetch
	['socksify -x socks5h://127.0.0.1:9050 --check example.org:80']=check
	['socksify --explain intranet.example:443']=explain
	['eval "$(socksify -x socks5h://127.0.0.1:9050 --env)"']=env
)
# NOT_RUN: an example line => why it cannot run in the lab.  Printed as
# "not run: LINE (REASON)" and counted as covered (not a skip: CI counts
# skips as failures).  Examples whose tools are missing here (sshd, git)
# are reported the same way by their handler.
declare -A NOT_RUN=(
	# none: every example runs in the lab.  An entry: ['LINE']='REASON'
)

# ---------------------------------------------------------------- checks without the lab
cd "$TOP" || exit 1
# shellcheck disable=SC2086
mapfile -t DOC_EXAMPLES < <("$PY" "$DOCX" examples $DOCS)
declare -A SEEN=()
n_found=${#DOC_EXAMPLES[@]} n_bad=0
for entry in "${DOC_EXAMPLES[@]}"; do
	text=${entry#*$'\t'}
	SEEN[$text]=1
	if [ -z "${EXAMPLES[$text]+x}" ] && [ -z "${NOT_RUN[$text]+x}" ]; then
		fail "example not covered: $text (${entry%%$'\t'*}; add it to EXAMPLES or NOT_RUN in tests/lab/examples.sh)"
		n_bad=$((n_bad + 1))
	fi
done
for text in "${!EXAMPLES[@]}" "${!NOT_RUN[@]}"; do
	if [ -z "${SEEN[$text]+x}" ]; then
		fail "table entry matches no example in $DOCS: $text"
		n_bad=$((n_bad + 1))
	fi
done
if [ "$n_found" -lt 20 ]; then
	fail "the documents hold $n_found example lines (fewer than 20: is docexamples.py still finding them?)"
elif [ "$n_bad" -eq 0 ]; then
	pass "the documents hold $n_found example lines (${#SEEN[@]} distinct), each with a table entry, and every entry is in them"
fi

if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ]; then
	fail "socksify is built ($SOCKSIFY and $LIBSOCKSIFY missing: run make all)"
	summary examples
	exit 1
fi

# socksify --help and socksify(1) OPTIONS name the same options.
mapfile -t MAN_OPTS < <("$PY" "$DOCX" manopts man/socksify.1 | sort -u)
mapfile -t HELP_OPTS < <("$SOCKSIFY" --help | sed -n '/^Options:/,/^$/p' |
	grep -oE '^  -[A-Za-z], --[a-z0-9-]+|^      --[a-z0-9-]+' | tr ',' '\n' | tr -d ' ' | sort -u)
opt_bad=0
for o in "${MAN_OPTS[@]}"; do
	printf '%s\n' "${HELP_OPTS[@]}" | grep -qxF -- "$o" ||
		{ fail "socksify(1) OPTIONS documents $o; socksify --help does not list it"; opt_bad=1; }
done
for o in "${HELP_OPTS[@]}"; do
	printf '%s\n' "${MAN_OPTS[@]}" | grep -qxF -- "$o" ||
		{ fail "socksify --help lists $o; socksify(1) OPTIONS does not document it"; opt_bad=1; }
done
if [ "$opt_bad" = 0 ] && [ "${#MAN_OPTS[@]}" -ge 10 ]; then
	pass "socksify --help and socksify(1) OPTIONS name the same ${#MAN_OPTS[@]} options: ${MAN_OPTS[*]}"
elif [ "$opt_bad" = 0 ]; then
	fail "socksify(1) OPTIONS parsed into only ${#MAN_OPTS[@]} options (${MAN_OPTS[*]})"
fi

# ---------------------------------------------------------------- the lab
if ! why=$(lab_available); then
	skip "the documents' examples in the lab" "$why"
	summary examples
	exit $?
fi
if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary examples
	exit 1
fi
OUT=$LAB_DIR/out
EXD=$LAB_DIR/ex                   # everything the examples use
HOME_BARE=$EXD/home/me            # HOME without a config file
HOME_CONF=$EXD/home/conf          # HOME with ~/.config/socksify/socks.conf
SSHD_DIR=$EXD/ssh
mkdir -p "$OUT" "$EXD/bin" "$EXD/wd" "$HOME_BARE" "$HOME_CONF/.config/socksify" || exit 1
echo "examples: namespaces $(lab_namespaces | tr "\n" " ")temp dir $LAB_DIR"
# A system-wide /etc/socksify (an installed package's) must not be read:
# ip netns exec mounts this empty directory over it in the client.
[ -e /etc/socksify ] && mkdir -p "/etc/netns/$LAB_NS_C/socksify"

LAB_URL=socks5h://$LAB_PROXY4:$LAB_PORT
HAVE_SSHD=0 HAVE_GIT=0 HAVE_OPENSSL=0
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null && HAVE_SSHD=1
command -v git >/dev/null && HAVE_GIT=1
command -v openssl >/dev/null && HAVE_OPENSSL=1
for t in ${EXAMPLES_WITHOUT:-}; do # act as if these were not installed
	case $t in sshd) HAVE_SSHD=0 ;; git) HAVE_GIT=0 ;; openssl) HAVE_OPENSSL=0 ;; esac
done
NO_SSHD="openssh-server is not installed: no sshd for the jump host or the ssh target"

# SUBST: FROM, TO and why, applied in this order to every example line and
# to the output the documents show for it.  CMD_SUBST: the same for the
# command only, after SUBST.
SUBST=()
if [ "$HAVE_SSHD" = 1 ]; then
	SUBST+=('127.0.0.1:1080' '127.0.0.1:1080' "stays: the README's ssh -D tunnel to the border's sshd, in the client")
else
	SUBST+=('127.0.0.1:1080' "$LAB_PROXY4:$LAB_PORT" "danted: no sshd for the README's ssh -D tunnel")
fi
SUBST+=(
	'127.0.0.1:9050' "$LAB_PROXY4:$LAB_PORT" "tor's port: danted stands in"
	'alice:s3cret@proxy.corp.example:1080' "$LAB_USER:$LAB_PASS@$LAB_PROXY4:$LAB_AUTH_PORT"
	"danted with the username method; the lab's system user"
	'proxy.example:1080' "$LAB_PROXY4:$LAB_PORT" "danted"
	'://example.org/' "://$LAB_HOSTS_NAME/" "a fetched URL: in the client's /etc/hosts (socks5:// resolves locally)"
	'mail.example.org' "mail.$LAB_DOMAIN" "--explain: resolved nowhere"
	'example.org' "$LAB_NAME" "--check by name: the proxy resolves it"
	'intranet.example' "$LAB_HOSTNAME" "only the proxy (the jump host) resolves it"
	'-x URL' "-x $LAB_URL" "the metavariable: danted"
	'--check [HOST:PORT]' '--check' "the synopsis, without the optional part"
	'--explain HOST[:PORT]' "--explain $LAB_NAME" "the synopsis, without the optional port"
	'/usr/local/lib/socksify/libsocksify.so' "$LIBSOCKSIFY" "the launcher in the tree preloads the library beside it"
	'/home/me/' "$HOME_BARE/" "the examples' HOME"
)
CMD_SUBST=(
	'ssh ' "ssh -F $SSHD_DIR/ssh_config " "jumphost: the border's sshd; host: the target's"
	'/etc/legacy-app/socks.conf' "$EXD/legacy-app/socks.conf" "proxy $LAB_PROXY4:$LAB_PORT"
	'/opt/legacy/bin/app' "$EXD/legacy/bin/app" "a symlink to curl"
)
[ "$HAVE_OPENSSL" = 1 ] ||
	CMD_SUBST+=('https://' 'http://' "no openssl here to make the TLS server's certificate")

subst_with() { # ARRAY-NAME TEXT: TEXT with the array's substitutions made
	local -n tab=$1
	local s=$2 i
	for ((i = 0; i < ${#tab[@]}; i += 3)); do
		s=${s//"${tab[i]}"/"${tab[i + 1]}"}
	done
	printf '%s' "$s"
}
subst() { subst_with SUBST "$1"; }
adapt() { subst_with CMD_SUBST "$(subst "$1")"; }

echo "examples: every example runs in the client namespace under /bin/sh, with"
echo "  PATH=$EXD/bin:/usr/bin:/bin ($EXD/bin/socksify is $SOCKSIFY)"
echo "  HOME=$HOME_BARE (no config file), but for a line without -x, -f or --off"
echo "  HOME=$HOME_CONF (~/.config/socksify/socks.conf: proxy $LAB_URL)"
echo "  after these substitutions (FROM -> TO: why):"
for ((i = 0; i < ${#SUBST[@]}; i += 3)); do
	echo "    ${SUBST[i]} -> ${SUBST[i + 1]}: ${SUBST[i + 2]}"
done
echo "  and in the commands only:"
for ((i = 0; i < ${#CMD_SUBST[@]}; i += 3)); do
	echo "    ${CMD_SUBST[i]} -> ${CMD_SUBST[i + 1]}: ${CMD_SUBST[i + 2]}"
done

# ---------------------------------------------------------------- the examples' world
ln -s "$SOCKSIFY" "$EXD/bin/socksify"
echo "proxy $LAB_URL" >"$HOME_CONF/.config/socksify/socks.conf"
# README's ~/work-proxy.conf, and its client.py (in every working directory).
echo "proxy socks5://$LAB_PROXY4:$LAB_PORT" >"$HOME_BARE/work-proxy.conf"
cat >"$EXD/client.py" <<EOF
import urllib.request
print(urllib.request.urlopen("http://$LAB_HOSTS_NAME/", timeout=10).read().decode(), end="")
EOF
# README's ~/work.conf: route direct 10.0.0.0/8 at line 2, route refuse all
# 25 at line 3, names resolved by the proxy (its --explain says dns remote).
printf '%s\n' "proxy $LAB_URL" "route direct 10.0.0.0/8" "route refuse all 25" \
	>"$HOME_BARE/work.conf"
# The wrapper script's configuration and its "legacy binary".
mkdir -p "$EXD/legacy-app" "$EXD/legacy/bin"
echo "proxy socks5://$LAB_PROXY4:$LAB_PORT" >"$EXD/legacy-app/socks.conf"
ln -s "$(command -v curl)" "$EXD/legacy/bin/app"

EX_ENV=(PATH="$EXD/bin:/usr/bin:/bin" SHELL=/bin/sh LANG=C.UTF-8 TERM=dumb
	CURL_CA_BUNDLE="$EXD/tls/cert.pem" WGETRC="$EXD/wgetrc")

# The TLS server: GET answers the lab's token, as servers.py does.
TLS_SERVER='
import http.server, ssl, sys
addr, cert, key, body, ready = sys.argv[1], sys.argv[2], sys.argv[3], (sys.argv[4] + "\n").encode(), sys.argv[5]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((addr, 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(ready, "w").write("ready\n")
srv.serve_forever()
'
mkdir -p "$EXD/tls" && : >"$EXD/wgetrc"
if [ "$HAVE_OPENSSL" = 1 ]; then
	if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 2 -subj "/CN=$LAB_HOSTS_NAME" \
		-addext "subjectAltName=DNS:$LAB_HOSTS_NAME,DNS:$LAB_NAME,DNS:$LAB_HOSTNAME" \
		-keyout "$EXD/tls/key.pem" -out "$EXD/tls/cert.pem" 2>"$EXD/tls/openssl.err"; then
		echo "ca_certificate = $EXD/tls/cert.pem" >"$EXD/wgetrc"
		lab_spawn "$LAB_NS_T" "$PY" -c "$TLS_SERVER" "$LAB_TARGET4" "$EXD/tls/cert.pem" \
			"$EXD/tls/key.pem" "$LAB_TOKEN" "$EXD/tls/ready" 2>"$EXD/tls/server.log"
		if ! lab_wait_file "$EXD/tls/ready" 100 || ! lab_wait_port "$LAB_NS_T" "$LAB_TARGET4" 443; then
			fail "the TLS server listens on $LAB_TARGET4:443 ($(cat "$EXD/tls/server.log"))"
		fi
	else
		fail "openssl makes a certificate ($(cat "$EXD/tls/openssl.err"))"
	fi
fi

# sshd on the border (jumphost) and on the target (host), root by key.
TUNNEL_PID=""
if [ "$HAVE_SSHD" = 1 ]; then
	mkdir -p "$SSHD_DIR"
	# sshd's privilege separation directory, which the package's service
	# would make; left in place (a parallel run may be using it).
	mkdir -p /run/sshd
	if ! ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/hostkey" ||
		! ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/id" ||
		! cp "$SSHD_DIR/id.pub" "$SSHD_DIR/authorized_keys"; then
		fail "ssh-keygen makes the lab's keys"
	fi
	for where in "$LAB_NS_B $LAB_PROXY4" "$LAB_NS_T $LAB_TARGET4"; do
		read -r ns addr <<<"$where"
		cat >"$SSHD_DIR/sshd-$addr.conf" <<EOF
ListenAddress $addr:22
HostKey $SSHD_DIR/hostkey
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile none
AllowTcpForwarding yes
PrintMotd no
LogLevel ERROR
EOF
		lab_spawn "$ns" /usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd-$addr.conf" 2>>"$SSHD_DIR/sshd-$addr.log"
		lab_wait_port "$ns" "$addr" 22 || fail "sshd listens on $addr:22 ($(cat "$SSHD_DIR/sshd-$addr.log"))"
	done
	cat >"$SSHD_DIR/ssh_config" <<EOF
Host jumphost
	HostName $LAB_PROXY4
Host host
	HostName $LAB_TARGET4
Host *
	User root
	IdentityFile $SSHD_DIR/id
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	BatchMode yes
	ExitOnForwardFailure yes
	LogLevel ERROR
EOF
fi

# ---------------------------------------------------------------- helpers
# ex_run NAME HOME DIR CMD: run CMD (sh -c) in the client namespace in DIR,
# with the examples' environment and HOME (stdin: the caller's); run's
# $OUT/NAME.out, .err and RC.
ex_run() {
	local name=$1 home=$2 dir=$3 cmd=$4
	run "$name" lab_c env -i -C "$dir" "${EX_ENV[@]}" HOME="$home" timeout 30 /bin/sh -c "$cmd"
}

ex_home() { # LINE: the HOME an example runs with
	case " $1 " in
	*" -x "* | *" -f "* | *" --off"* | " ssh "* | " env -u "*) echo "$HOME_BARE" ;;
	*) echo "$HOME_CONF" ;;
	esac
}

not_run() { # LINE REASON
	echo "not run: $1 ($2)"
	N_NOT_RUN=$((N_NOT_RUN + 1))
}

# The documented output of the example at LOC (FILE:LINE), substituted.
doc_output() {
	local f=${1%:*} l=${1##*:}
	case $f in *.md) ;; *) return 0 ;; esac
	"$PY" "$DOCX" output "$f" "$l" | while IFS= read -r line; do
		printf '%s\n' "$(subst "$line")"
	done
}

# tunnel_start CMD / tunnel_stop: the ssh -D tunnel on the client's
# 127.0.0.1:1080 (one at a time).
tunnel_stop() {
	[ -n "$TUNNEL_PID" ] || return 0
	lab_kill "$TUNNEL_PID"
	TUNNEL_PID=""
	for _ in $(seq 1 50); do
		lab_c ss -Hltn 2>/dev/null | awk '{print $4}' | grep -qxF 127.0.0.1:1080 || return 0
		sleep 0.1
	done
}
tunnel_start() {
	tunnel_stop
	lab_spawn "$LAB_NS_C" env -i "${EX_ENV[@]}" HOME="$HOME_BARE" /bin/sh -c "exec $1" \
		>>"$SSHD_DIR/tunnel.log" 2>&1
	TUNNEL_PID=$LAB_LAST_PID
	lab_wait_port "$LAB_NS_C" 127.0.0.1 1080 100
}

# A --check line with what changes from run to run (after the first "(":
# addresses, ports, milliseconds) masked.
check_mask() {
	sed -E 'h; s/^[^(]*//; s/\[[0-9a-fA-F:.]+\]:[0-9]+/ADDR/g; s/[0-9]+(\.[0-9]+){3}:[0-9]+/ADDR/g
		s/[0-9]+/N/g; x; s/\(.*//; G; s/\n//'
}

# ---------------------------------------------------------------- handlers
# h_KIND DESC LINE CMD N HOME LOC: run one example (CMD: LINE substituted)
# and pass or fail.  Return 2 after not_run.

# The page (the lab's token) arrives, on standard output or in a file the
# command writes (wget), through the proxy: the client has no other way.
h_fetch() {
	local desc=$1 cmd=$3 n=$4 home=$5 dir=$EXD/wd/$4
	mkdir -p "$dir" && cp "$EXD/client.py" "$dir/"
	ex_run "ex$n" "$home" "$dir" "$cmd"
	if [ "$RC" -eq 0 ] && grep -rqF "$LAB_TOKEN" "$OUT/ex$n.out" "$dir"; then
		pass "$desc: the page arrived through the proxy"
	else
		fail "$desc: the page arrives through the proxy"; show "ex$n"
	fi
}

# ssh to the target through the authenticating proxy: the remote shell
# reads its commands from standard input and shows the target's interfaces.
h_ssh_host() {
	local desc=$1 cmd=$3 n=$4 home=$5 dir=$EXD/wd/$4
	[ "$HAVE_SSHD" = 1 ] || { not_run "$2" "$NO_SSHD"; return 2; }
	mkdir -p "$dir" && echo 'cat /proc/net/dev' >"$dir/stdin"
	ex_run "ex$n" "$home" "$dir" "$cmd" <"$dir/stdin"
	if [ "$RC" -eq 0 ] && grep -qF "$LAB_IF_T:" "$OUT/ex$n.out"; then
		pass "$desc: a shell on the target ($LAB_IF_T), reached through the authenticating proxy"
	else
		fail "$desc: a shell on the target through the authenticating proxy"; show "ex$n"
	fi
}

# ssh -N -D 1080 jumphost &: the tunnel listens on the client's loopback
# (the following examples use it).
h_tunnel() {
	local desc=$1 cmd=$3
	[ "$HAVE_SSHD" = 1 ] || { not_run "$2" "$NO_SSHD"; return 2; }
	cmd=${cmd%&}
	if tunnel_start "${cmd% }"; then
		pass "$desc: the tunnel listens on the client's 127.0.0.1:1080"
	else
		fail "$desc: the tunnel listens on the client's 127.0.0.1:1080"
		sed 's/^/  | /' "$SSHD_DIR/tunnel.log"
	fi
}

# env -u LD_PRELOAD ssh -N -D 1080 jumphost, started from a shell that
# --env socksified with 127.0.0.1:1080 before anything listens there: --env
# warns about exactly that; the ssh so started is not socksified, and the
# shell's programs reach the intranet through it.
h_tunnel_from_shell() {
	local desc=$1 cmd=$3 n=$4 home=$5 dir=$EXD/wd/$4 pid
	[ "$HAVE_SSHD" = 1 ] || { not_run "$2" "$NO_SSHD"; return 2; }
	tunnel_stop
	mkdir -p "$dir"
	cat >"$dir/script" <<EOF
{ eval "\$(socksify -x socks5h://127.0.0.1:1080 --env)"; } 2>warning
$cmd >ssh.log 2>&1 &
echo \$! >ssh.pid
i=0
until ss -Hltn | awk '{print \$4}' | grep -qxF 127.0.0.1:1080; do
	i=\$((i + 1)); [ \$i -gt 100 ] && break; sleep 0.1
done
curl -sS -m 10 http://$LAB_HOSTNAME/
printf 'ssh maps libsocksify: %s\n' "\$(grep -c libsocksify /proc/\$(cat ssh.pid)/maps)"
EOF
	ex_run "ex$n" "$home" "$dir" ". ./script"
	pid=$(cat "$dir/ssh.pid" 2>/dev/null)
	if [ -n "$pid" ]; then TUNNEL_PID=$pid LAB_PIDS+=("$pid"); fi
	if [ "$RC" -eq 0 ] && grep -qF "nothing listens at the proxy 127.0.0.1:1080 yet" "$dir/warning" &&
		grep -qxF "$LAB_TOKEN" "$OUT/ex$n.out" && grep -qxF "ssh maps libsocksify: 0" "$OUT/ex$n.out"; then
		pass "$desc: --env warned that nothing listened yet; this ssh is not socksified and carries the shell's curl"
	else
		fail "$desc: --env warns, the ssh started so is not socksified and carries the shell's curl"
		show "ex$n"; sed 's/^/  warning| /' "$dir/warning"; sed 's/^/  ssh| /' "$dir/ssh.log"
	fi
}

# --env: the lines the document shows (if it shows any) literally; then, in
# dash and bash, evaluated once or twice they give LD_PRELOAD = the library
# (prepended to what was there), no warning, and the shell's programs are
# socksified.
h_env() {
	local desc=$1 line=$2 cmd=$3 n=$4 home=$5 loc=$6 dir=$EXD/wd/$4 evalline want sh ok
	mkdir -p "$dir"
	want=$(doc_output "$loc")
	if [ -n "$want" ]; then
		ex_run "ex$n" "$home" "$dir" "$cmd"
		if [ "$RC" -eq 0 ] && [ "$(cat "$OUT/ex$n.out")" = "$want" ] && [ ! -s "$OUT/ex$n.err" ]; then
			pass "$desc: prints the $(printf '%s\n' "$want" | wc -l) lines $loc shows"
		else
			fail "$desc: prints the lines $loc shows"; show "ex$n"
			diff <(printf '%s\n' "$want") "$OUT/ex$n.out" | sed 's/^/  diff| /'
		fi
	fi
	case $cmd in
	'eval '*) evalline=$cmd ;;
	*) evalline="eval \"\$($cmd)\"" ;;
	esac
	printf '%s\n' "$evalline" "printf 'once=%s\n' \"\${LD_PRELOAD-unset}\"" "$evalline" \
		"printf 'twice=%s\n' \"\${LD_PRELOAD-unset}\"" "curl -sS -m 10 http://$LAB_HOSTS_NAME/" >"$dir/a"
	printf '%s\n' "LD_PRELOAD=libm.so.6; export LD_PRELOAD" "$evalline" \
		"printf 'kept=%s\n' \"\${LD_PRELOAD-unset}\"" >"$dir/b"
	for sh in dash bash; do
		ex_run "ex$n-$sh-a" "$home" "$dir" "$sh ./a"
		ok=0
		[ "$RC" -eq 0 ] && [ ! -s "$OUT/ex$n-$sh-a.err" ] &&
			[ "$(cat "$OUT/ex$n-$sh-a.out")" = "$(printf 'once=%s\ntwice=%s\n%s' "$LIBSOCKSIFY" "$LIBSOCKSIFY" "$LAB_TOKEN")" ] && ok=1
		[ "$ok" = 1 ] || { fail "$desc: in $sh: LD_PRELOAD=$LIBSOCKSIFY after one eval and after two, curl socksified"; show "ex$n-$sh-a"; }
		ex_run "ex$n-$sh-b" "$home" "$dir" "$sh ./b"
		if [ "$RC" -eq 0 ] && [ "$(cat "$OUT/ex$n-$sh-b.out")" = "kept=$LIBSOCKSIFY libm.so.6" ]; then
			[ "$ok" = 1 ] && pass "$desc: in $sh: LD_PRELOAD=$LIBSOCKSIFY once however often evaluated, prepended to an existing LD_PRELOAD; curl from that shell is socksified"
		else
			fail "$desc: in $sh: prepended to LD_PRELOAD=libm.so.6"; show "ex$n-$sh-b"
		fi
	done
}

# --off after --env: only the library leaves LD_PRELOAD (the rest stays in
# order; unset when nothing is left), the SOCKSIFY_* variables go; it needs
# no configuration (run bare, on a colon-separated LD_PRELOAD).
h_off() {
	local desc=$1 cmd=$3 n=$4 home=$5 dir=$EXD/wd/$4 sh envline
	mkdir -p "$dir"
	envline="eval \"\$(socksify -x $LAB_URL --env)\""
	printf '%s\n' "LD_PRELOAD=libm.so.6; export LD_PRELOAD" "SOCKSIFY_LOG_LEVEL=info; export SOCKSIFY_LOG_LEVEL" \
		"$envline" "printf 'on=%s\n' \"\$LD_PRELOAD\"" "$cmd" "printf 'off=%s\n' \"\${LD_PRELOAD-unset}\"" \
		"env | grep '^SOCKSIFY_' | sed 's/^/left: /'" >"$dir/a"
	printf '%s\n' "$envline" "$cmd" "printf 'off=%s\n' \"\${LD_PRELOAD-unset}\"" >"$dir/b"
	printf '%s\n' "LD_PRELOAD=$LIBSOCKSIFY:libm.so.6; export LD_PRELOAD" "$cmd" \
		"printf 'off=%s\n' \"\${LD_PRELOAD-unset}\"" >"$dir/c"
	for sh in dash bash; do
		ex_run "ex$n-$sh-a" "$home" "$dir" "$sh ./a"
		if [ "$RC" -ne 0 ] || [ "$(cat "$OUT/ex$n-$sh-a.out")" != "$(printf 'on=%s libm.so.6\noff=libm.so.6' "$LIBSOCKSIFY")" ]; then
			fail "$desc: in $sh: after --env, LD_PRELOAD back to libm.so.6 and no SOCKSIFY_* left"; show "ex$n-$sh-a"; continue
		fi
		ex_run "ex$n-$sh-b" "$home" "$dir" "$sh ./b"
		if [ "$RC" -ne 0 ] || [ "$(cat "$OUT/ex$n-$sh-b.out")" != "off=unset" ]; then
			fail "$desc: in $sh: LD_PRELOAD unset when only the library was in it"; show "ex$n-$sh-b"; continue
		fi
		ex_run "ex$n-$sh-c" "$home" "$dir" "$sh ./c"
		if [ "$RC" -ne 0 ] || [ "$(cat "$OUT/ex$n-$sh-c.out")" != "off=libm.so.6" ]; then
			fail "$desc: in $sh: with no configuration, on LD_PRELOAD=LIB:libm.so.6"; show "ex$n-$sh-c"; continue
		fi
		pass "$desc: in $sh: undoes --env (libm.so.6 stays, LD_PRELOAD unset when nothing is left, no SOCKSIFY_* left), with no configuration too"
	done
}

# --shell: the shell runs socksified; its programs reach the target.
h_shell() {
	local desc=$1 cmd=$3 n=$4 home=$5 dir=$EXD/wd/$4
	mkdir -p "$dir"
	printf '%s\n' "printf 'preload=%s\n' \"\$LD_PRELOAD\"" "curl -sS -m 10 http://$LAB_HOSTS_NAME/" >"$dir/stdin"
	ex_run "ex$n" "$home" "$dir" "$cmd" <"$dir/stdin"
	if [ "$RC" -eq 0 ] && [ "$(cat "$OUT/ex$n.out")" = "$(printf 'preload=%s\n%s' "$LIBSOCKSIFY" "$LAB_TOKEN")" ] &&
		[ ! -s "$OUT/ex$n.err" ]; then
		pass "$desc: \$SHELL (/bin/sh) runs with LD_PRELOAD=$LIBSOCKSIFY; its curl gets the page through the proxy"
	else
		fail "$desc: the shell runs socksified"; show "ex$n"
	fi
}

# git fetch && git pull in a clone whose origin is a dumb-HTTP server on
# the target, one commit ahead: the clone gets it, through the proxy.
h_git_pull() {
	local desc=$1 cmd=$3 n=$4 home=$5 g=$EXD/git new have
	[ "$HAVE_GIT" = 1 ] || { not_run "$2" "git is not installed"; return 2; }
	local -x GIT_AUTHOR_NAME=lab GIT_AUTHOR_EMAIL=lab@$LAB_DOMAIN GIT_COMMITTER_NAME=lab \
		GIT_COMMITTER_EMAIL=lab@$LAB_DOMAIN GIT_CONFIG_NOSYSTEM=1 HOME=$g
	if ! { mkdir -p "$g/srv" &&
		git init -q --bare "$g/srv/repo.git" &&
		git init -q "$g/seed" &&
		echo one >"$g/seed/f" && git -C "$g/seed" add f && git -C "$g/seed" commit -qm one &&
		git -C "$g/seed" push -q "$g/srv/repo.git" HEAD:refs/heads/main &&
		git -C "$g/srv/repo.git" symbolic-ref HEAD refs/heads/main &&
		git clone -q "$g/srv/repo.git" "$g/clone" &&
		git -C "$g/clone" remote set-url origin "http://$LAB_HOSTS_NAME:8080/repo.git" &&
		echo two >"$g/seed/f" && git -C "$g/seed" commit -qam two &&
		git -C "$g/seed" push -q "$g/srv/repo.git" HEAD:refs/heads/main &&
		git -C "$g/srv/repo.git" update-server-info; }; then
		fail "$desc: the git repositories are set up"
		return 1
	fi
	new=$(git -C "$g/seed" rev-parse HEAD)
	lab_spawn "$LAB_NS_T" "$PY" -m http.server 8080 --bind "$LAB_TARGET4" --directory "$g/srv" \
		>"$g/http.log" 2>&1
	lab_wait_port "$LAB_NS_T" "$LAB_TARGET4" 8080 || { fail "$desc: the git HTTP server listens"; return 1; }
	ex_run "ex$n" "$home" "$g/clone" "$cmd"
	have=$(git -C "$g/clone" rev-parse HEAD)
	if [ "$RC" -eq 0 ] && [ "$have" = "$new" ]; then
		pass "$desc: the clone fetched and pulled the new commit from http://$LAB_HOSTS_NAME:8080 through the proxy"
	else
		fail "$desc: the clone pulls the new commit ($new; has $have)"; show "ex$n"
	fi
}

# The wrapper script, as the document's block writes it: the legacy app
# (curl) it starts gets the page through the proxy.
h_wrapper() {
	local desc=$1 n=$4 home=$5 loc=$6 dir=$EXD/wd/$4 line
	mkdir -p "$dir"
	"$PY" "$DOCX" blockat "${loc%:*}" "${loc##*:}" | while IFS= read -r line; do
		printf '%s\n' "$(adapt "$line")"
	done >"$dir/wrapper"
	chmod +x "$dir/wrapper"
	ex_run "ex$n" "$home" "$dir" "./wrapper -sS -m 10 http://$LAB_HOSTS_NAME/"
	if [ "$RC" -eq 0 ] && grep -qxF "$LAB_TOKEN" "$OUT/ex$n.out"; then
		pass "$desc: the wrapped app (curl) got the page through the proxy"
	else
		fail "$desc: the wrapped app gets the page through the proxy"; show "ex$n"
		sed 's/^/  wrapper| /' "$dir/wrapper"
	fi
}

# --check: the exit status the documents give for this proxy (ssh -D: 1,
# it carries neither UDP nor BIND; danted: 0), and the lines the document
# shows, in order ("..." skips; what changes from run to run masked) where
# danted has "ok" for UDP ASSOCIATE and BIND; without shown lines, what the
# text promises: the CONNECT to the destination and, for socks5h, the name
# resolved by the proxy, or no CONNECT without a destination.
h_check() {
	local desc=$1 cmd=$3 n=$4 home=$5 loc=$6 kind=danted want_rc=0 dest d i=0
	local -a real want=() missing=()   # want: "=LINE" (exact) or "~GLOB"
	case $cmd in *//127.0.0.1:1080*) [ "$HAVE_SSHD" = 1 ] && kind=ssh want_rc=1 ;; esac
	ex_run "ex$n" "$home" "$EXD/wd" "$cmd"
	mapfile -t real < <(check_mask <"$OUT/ex$n.out")
	while IFS= read -r d; do
		case $kind/$d in
		*/...) ;;
		danted/'no    UDP ASSOCIATE '*) want+=("~ok    UDP ASSOCIATE*") ;;
		danted/'no    BIND '*) want+=("~ok    BIND*") ;;
		*) want+=("=$d") ;;
		esac
	done < <(doc_output "$loc" | check_mask)
	if [ "${#want[@]}" -eq 0 ]; then
		dest=${cmd##*--check}
		dest=${dest# }
		if [ -z "$dest" ]; then
			want=("~-     CONNECT: not tried*")
		else
			want=("~ok    CONNECT $dest: granted*")
			case $cmd in *socks5h://*) want+=("=ok    name ${dest%:*}: resolved by the proxy") ;; esac
		fi
		want+=("~ok    UDP ASSOCIATE*" "~ok    BIND*")
	fi
	for d in "${want[@]}"; do
		while [ "$i" -lt "${#real[@]}" ]; do
			# shellcheck disable=SC2053
			case $d in
			=*) [ "${real[i]}" = "${d#=}" ] && break ;;
			~*) [[ ${real[i]} == ${d#\~} ]] && break ;;
			esac
			i=$((i + 1))
		done
		if [ "$i" -lt "${#real[@]}" ]; then i=$((i + 1)); else missing+=("${d:1}") i=0; fi
	done
	if [ "$RC" -eq "$want_rc" ] && [ "${#missing[@]}" -eq 0 ]; then
		pass "$desc: exit $RC (proxy: $kind), and the ${#want[@]} lines $loc shows or promises, in order"
	else
		fail "$desc: exit $want_rc (proxy: $kind; got $RC), and the lines $loc shows or promises, in order"
		printf '  missing (in order): %s\n' "${missing[@]}"
		show "ex$n"
	fi
}

# --explain: the lines the document shows, literally; without shown lines,
# a verdict (direct, proxy or refuse) for the host asked about.
h_explain() {
	local desc=$1 cmd=$3 n=$4 home=$5 loc=$6 want host
	ex_run "ex$n" "$home" "$EXD/wd" "$cmd"
	want=$(doc_output "$loc")
	if [ -n "$want" ]; then
		if [ "$RC" -eq 0 ] && [ "$(cat "$OUT/ex$n.out")" = "$want" ]; then
			pass "$desc: prints the $(printf '%s\n' "$want" | wc -l) lines $loc shows"
		else
			fail "$desc: prints the lines $loc shows"; show "ex$n"
			diff <(printf '%s\n' "$want") "$OUT/ex$n.out" | sed 's/^/  diff| /'
		fi
		return
	fi
	host=${cmd##*--explain }
	host=${host%:*}
	if [ "$RC" -eq 0 ] && grep -qE "^(name|address) $host( port [0-9]+)?: (direct|proxy|refuse) \(" "$OUT/ex$n.out"; then
		pass "$desc: $(grep -m1 -E "^(name|address) $host" "$OUT/ex$n.out")"
	else
		fail "$desc: says direct, proxy or refuse for $host"; show "ex$n"
	fi
}

# ---------------------------------------------------------------- control
run control lab_c curl -sS -m 3 "http://$LAB_HOSTS_NAME/"
if [ "$RC" -ne 0 ] && ! grep -qF "$LAB_TOKEN" "$OUT/control.out"; then
	pass "control: without socksify the client cannot fetch http://$LAB_HOSTS_NAME/ (curl rc $RC)"
else
	fail "control: without socksify the client cannot fetch http://$LAB_HOSTS_NAME/"; show control
fi
if [ "$HAVE_SSHD" = 1 ]; then
	# The README's tunnel, for the examples before its own line.
	tunnel_start "ssh -F $SSHD_DIR/ssh_config -N -D 1080 jumphost" ||
		fail "the ssh -D tunnel to the border comes up ($(cat "$SSHD_DIR/tunnel.log"))"
fi

# ---------------------------------------------------------------- README's route block
# Every rule of the block, in a file after a proxy line, decides a
# destination it covers (the first address of its network, its port).
ROUTES=$EXD/routes.conf
{
	echo "proxy $LAB_URL"
	"$PY" "$DOCX" block README.md 'route '
} >"$ROUTES"
nrules=0
while IFS=: read -r ln rule; do
	read -r _ action dest ports _ <<<"$rule"
	port=${ports%%[,-]*}
	port=${port:-80}
	case $dest in
	all) host=www.$LAB_DOMAIN ;;
	*:*/*) host="[${dest%%::/*}::1]" ;;
	*.*/*) host=${dest%/*}; host=${host%.*}.1 ;;
	*) host=$dest ;;
	esac
	nrules=$((nrules + 1))
	run "route$ln" lab_c env -i HOME="$HOME_BARE" "$SOCKSIFY" -f "$ROUTES" --explain "$host:$port"
	if [ "$RC" -eq 0 ] && head -n1 "$OUT/route$ln.out" | grep -qF ": $action ($ROUTES:$ln: $rule)"; then
		pass "README's route block: $rule decides $host:$port ($action)"
	else
		fail "README's route block: $rule decides $host:$port ($action)"; show "route$ln"
	fi
done < <(grep -n '^route ' "$ROUTES")
[ "$nrules" -gt 0 ] || fail "README has a code block of route rules"

# ---------------------------------------------------------------- the examples
N_RUN=0 N_NOT_RUN=0 n=0
declare -A RAN_AT=()
for entry in "${DOC_EXAMPLES[@]}"; do
	loc=${entry%%$'\t'*}
	line=${entry#*$'\t'}
	if [ -n "${RAN_AT[$line]+x}" ]; then
		echo "-- $loc: $line: the same line as ${RAN_AT[$line]}"
		continue
	fi
	RAN_AT[$line]=$loc
	if [ -n "${NOT_RUN[$line]+x}" ]; then
		not_run "$line" "${NOT_RUN[$line]}"
		continue
	fi
	handler=${EXAMPLES[$line]-}
	[ -n "$handler" ] || continue   # not covered: failed above
	n=$((n + 1))
	cmd=$(adapt "$line")
	echo "-- $loc: $line"
	[ "$cmd" = "$line" ] || echo "   runs as: $cmd"
	"h_$handler" "$loc: $line" "$line" "$cmd" "$n" "$(ex_home "$line")" "$loc"
	[ $? -eq 2 ] || N_RUN=$((N_RUN + 1))
done
tunnel_stop
echo "examples: $n_found example lines, ${#RAN_AT[@]} distinct: $N_RUN run, $N_NOT_RUN not run"

lab_down
summary examples
