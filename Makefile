# socksify - run unmodified programs through a SOCKS5 proxy.
# `make check` and `make demo` install what is missing (Debian packages),
# build, and run.  See README.md.

CC ?= cc
CFLAGS ?= -O2 -g
WARNFLAGS = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual
HARDEN = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fno-strict-overflow
ALL_CPPFLAGS = -D_GNU_SOURCE -Ipreload $(CPPFLAGS)
ALL_CFLAGS = $(WARNFLAGS) $(HARDEN) $(CFLAGS)
LDHARDEN = -Wl,-z,defs,-z,now,-z,relro

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib/socksify
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/socksify
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL ?= install
STRIP ?= strip

VERSION = 0.1.0

LIB = preload/libsocksify.so
# The launcher (top-level `socksify`, built): its own sources, and the
# library's configuration loader and handshake machine, compiled in.
LAUNCHER = socksify
LAUNCHER_SRC = launcher/main.c launcher/check.c launcher/explain.c \
	launcher/supervise.c preload/config.c preload/cfgfind.c \
	preload/socks5.c preload/handshake.c preload/names.c preload/dnsmsg.c
LAUNCHER_DEPS = $(LAUNCHER_SRC) launcher/*.h preload/*.h
LAUNCHER_CFLAGS = $(ALL_CPPFLAGS) -Ilauncher $(ALL_CFLAGS) \
	-DSFY_VERSION='"$(VERSION)"'
# The pure core: no syscalls, no globals, no logging.
CORE_SRC = preload/socks5.c preload/config.c preload/handshake.c \
	preload/names.c preload/dnsmsg.c preload/udpfilter.c
# The fd table (the only user of uthash) is unit-tested on its own too.
TABLE_SRC = preload/fdtable.c
# The rest of the shared object.
SHIM_SRC = preload/real.c preload/log.c preload/ownfd.c preload/safemem.c \
	preload/wait.c preload/cfgfind.c preload/cfgload.c preload/proxy.c preload/pending.c \
	preload/epreg.c preload/async.c preload/hook_poll.c preload/bind.c \
	preload/sockkind.c preload/resolve.c \
	preload/udp.c preload/hook_tcp.c preload/hook_fd.c preload/hook_dns.c \
	preload/hook_udp.c preload/hook_exec.c
LIB_SRC = $(CORE_SRC) $(TABLE_SRC) $(SHIM_SRC)
LIB_OBJ = $(LIB_SRC:.c=.pic.o)
UNIT_OBJ = $(CORE_SRC:.c=.o) $(TABLE_SRC:.c=.o)

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=build/unit/%)
PROG_SRC = $(wildcard tests/prog/*.c)
PROG_BIN = $(PROG_SRC:tests/prog/%.c=build/prog/%)

.SECONDARY: $(UNIT_OBJ)

# The same sources built with AddressSanitizer and UndefinedBehaviorSanitizer
# (`make sanitize`; run by tests/sanitize.sh in `make check`): the library
# and the unit tests, objects under build/san/ only.  _FORTIFY_SOURCE stays:
# hook_udp.c's __*_chk hooks take their prototypes from glibc's fortified
# headers, and GCC's ASan checks the __*_chk builtins' ranges as it checks
# memcpy's.
SAN = build/san
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
SAN_CFLAGS = $(ALL_CFLAGS) $(SAN_FLAGS)
SAN_LIB = $(SAN)/libsocksify.so
SAN_LIB_OBJ = $(LIB_SRC:preload/%.c=$(SAN)/%.pic.o)
SAN_UNIT_OBJ = $(CORE_SRC:preload/%.c=$(SAN)/%.o) \
	$(TABLE_SRC:preload/%.c=$(SAN)/%.o)
SAN_UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(SAN)/unit/%)

.SECONDARY: $(SAN_UNIT_OBJ)

.PHONY: all deps check unit sanitize test-exports test-fake test-lab demo \
	bench format format-check fuzz install clean

all: $(LIB) $(LAUNCHER) $(PROG_BIN)

deps:
	@scripts/install-deps.sh

preload/%.pic.o: preload/%.c preload/*.h
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

preload/%.o: preload/%.c preload/*.h
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ) preload/socksify.map
	$(CC) -shared -o $@ $(LIB_OBJ) -Wl,--version-script=preload/socksify.map \
		$(LDHARDEN) $(LDFLAGS) -ldl -lpthread

# In a source tree the launcher finds the library beside itself
# (preload/); the installed one has $(LIBDIR) compiled in
# (build/install/socksify, below).
$(LAUNCHER): $(LAUNCHER_DEPS)
	$(CC) $(LAUNCHER_CFLAGS) -o $@ $(LAUNCHER_SRC) $(LDHARDEN) $(LDFLAGS)

build/unit/%: tests/unit/%.c $(UNIT_OBJ) preload/*.h tests/unit/*.h
	@mkdir -p build/unit
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(UNIT_OBJ) \
		$(CHECK_LIBS) -lpthread

$(SAN)/%.pic.o: preload/%.c preload/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(SAN_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(SAN)/%.o: preload/%.c preload/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(SAN_CFLAGS) -c -o $@ $<

$(SAN_LIB): $(SAN_LIB_OBJ) preload/socksify.map
	$(CC) $(SAN_FLAGS) -shared -o $@ $(SAN_LIB_OBJ) \
		-Wl,--version-script=preload/socksify.map $(LDHARDEN) $(LDFLAGS) \
		-ldl -lpthread

$(SAN)/unit/%: tests/unit/%.c $(SAN_UNIT_OBJ) preload/*.h tests/unit/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(SAN_CFLAGS) $(CHECK_CFLAGS) -o $@ $< \
		$(SAN_UNIT_OBJ) $(CHECK_LIBS) -lpthread

# Not sanitized: preloaded beside the ASan runtime (see the file).
$(SAN)/asan-dlerror-fix.so: tests/san/asan_dlerror_fix.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -shared -o $@ $< $(LDHARDEN) \
		$(LDFLAGS)

sanitize: $(SAN_LIB) $(SAN_UNIT_BIN) $(SAN)/asan-dlerror-fix.so

# Test programs driven by the lab and fake-server tests (same flags).
build/prog/%: tests/prog/%.c tests/prog/*.h
	@mkdir -p build/prog
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -o $@ $< -lpthread

# --- statically linked test programs (issue 11) -----------------------------
# tests/prog-static/*.c with the test programs' flags, linked -static
# (libc.a: libc6-dev), so that no dynamic loader runs and LD_PRELOAD cannot
# reach them: tests/lab/static.sh runs them under the launcher's seccomp
# supervisor.  Part of `all`.
PROGSTATIC_SRC = $(wildcard tests/prog-static/*.c)
PROGSTATIC_BIN = $(PROGSTATIC_SRC:tests/prog-static/%.c=build/prog-static/%)

all: $(PROGSTATIC_BIN)

build/prog-static/%: tests/prog-static/%.c tests/prog/*.h
	@mkdir -p build/prog-static
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -static -o $@ $< -lpthread
# --- end of the statically linked test programs ------------------------------

# Everything `make check` runs; each runner prints its own closing line.
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) sanitize
	@scripts/run-checks.sh

unit: $(UNIT_BIN)
	@scripts/run-checks.sh unit

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/lab/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

fuzz:
	@tests/fuzz/run.sh

format:
	clang-format -i preload/*.[ch] launcher/*.[ch] tests/*/*.[ch]

format-check:
	clang-format --dry-run --Werror preload/*.[ch] launcher/*.[ch] \
		tests/*/*.[ch]

# --- install / uninstall ----------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=/staging]: the library, stripped
# (the build tree's copy keeps -g), in $(LIBDIR); the launcher, with that
# path compiled in, in $(BINDIR); socksify(1) and socks.conf(5); the example
# configuration and README.md in $(DOCDIR); the bash completion.
# STRIP=true installs unstripped (debian/rules: dh_strip strips, keeping the
# debug symbols).  make uninstall removes exactly those files, then the
# directories install created (recorded in INST_RECORD, which lives in the
# build tree as CMake's and Meson's install manifests do) once they are
# empty; a directory that existed before (/usr/local/bin) stays.  Paths
# must not contain blanks.

INST_BIN = $(DESTDIR)$(BINDIR)/socksify
INST_LIB = $(DESTDIR)$(LIBDIR)/libsocksify.so
INST_FILES = $(INST_LIB) $(INST_BIN) \
	$(DESTDIR)$(MANDIR)/man1/socksify.1 \
	$(DESTDIR)$(MANDIR)/man5/socks.conf.5 \
	$(DESTDIR)$(DOCDIR)/socks.conf.example $(DESTDIR)$(DOCDIR)/README.md \
	$(DESTDIR)$(BASHCOMPDIR)/socksify
INST_DIRS = $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(BASHCOMPDIR)
INST_RECORD = build/install/created-dirs
# The installed paths the launcher and the man pages are built with; a
# different LIBDIR or DOCDIR rewrites it, and so rebuilds them.
INST_PATHS = build/install/paths
INST_PATHS_TEXT = LIBDIR=$(LIBDIR) DOCDIR=$(DOCDIR)

.PHONY: build-install install uninstall FORCE

$(INST_PATHS): FORCE
	@mkdir -p $(@D)
	@echo '$(INST_PATHS_TEXT)' | cmp -s - $@ 2>/dev/null || \
		echo '$(INST_PATHS_TEXT)' >$@

# The launcher for $(LIBDIR): rebuilt when the installed paths change.
build/install/socksify: $(LAUNCHER_DEPS) $(INST_PATHS)
	@mkdir -p $(@D)
	$(CC) $(LAUNCHER_CFLAGS) -DSFY_LIBDIR='"$(LIBDIR)"' -o $@ \
		$(LAUNCHER_SRC) $(LDHARDEN) $(LDFLAGS)

# The man pages name the installed example and library.
build/install/socksify.1 build/install/socks.conf.5: build/install/%: man/% \
		$(INST_PATHS)
	sed -e 's|/usr/local/share/doc/socksify|$(DOCDIR)|g' \
		-e 's|/usr/local/lib/socksify|$(LIBDIR)|g' $< >$@

# What install installs, built for $(PREFIX) (debian/rules builds this).
INST_BUILT = $(LIB) build/install/socksify build/install/socksify.1 \
	build/install/socks.conf.5

build-install: $(INST_BUILT)

install: $(INST_BUILT)
	@for d in $(INST_DIRS); do \
		while [ ! -d "$$d" ]; do \
			grep -qxF "$$d" $(INST_RECORD) 2>/dev/null || \
				echo "$$d" >>$(INST_RECORD); \
			d=$$(dirname "$$d"); \
		done; \
	done
	$(INSTALL) -d $(INST_DIRS)
	$(INSTALL) -m 0644 $(LIB) $(INST_LIB)
	$(STRIP) --strip-unneeded $(INST_LIB)
	$(INSTALL) -m 0755 build/install/socksify $(INST_BIN)
	$(STRIP) $(INST_BIN)
	$(INSTALL) -m 0644 build/install/socksify.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 build/install/socks.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 socks.conf.example README.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 scripts/socksify.bash-completion \
		$(DESTDIR)$(BASHCOMPDIR)/socksify
	@[ -n "$(DESTDIR)" ] || { $(shadow_check); }

# After a real install (no DESTDIR): one line on stderr when the socksify a
# shell would run is not the one just installed (another comes first on
# PATH, or $(BINDIR) is not on PATH), or when the new one hides another
# further on (Dante's /usr/bin/socksify under /usr/local/bin/socksify).
define shadow_check
	me=$(BINDIR)/socksify; seen=; before=; after=; IFS=:; \
	for d in $$PATH; do \
		[ -n "$$d" ] || d=.; \
		if [ "$$d" -ef "$(BINDIR)" ]; then seen=1; continue; fi; \
		f=$$d/socksify; \
		[ -f "$$f" ] && [ -x "$$f" ] && [ ! "$$f" -ef "$$me" ] || continue; \
		if [ -n "$$seen" ]; then after=$${after:-$$f}; \
		else before=$${before:-$$f}; fi; \
	done; \
	if [ -n "$$before" ] && [ -n "$$seen" ]; then \
		echo "make install: warning: $$before comes before $(BINDIR) on PATH: 'socksify' runs it, not the $$me installed now" >&2; \
	elif [ -n "$$before" ]; then \
		echo "make install: warning: $(BINDIR) is not on PATH: 'socksify' runs $$before, not the $$me installed now" >&2; \
	elif [ -n "$$after" ]; then \
		echo "make install: note: the $$me installed now comes before $$after on PATH: 'socksify' runs the new one" >&2; \
	fi
endef

uninstall:
	rm -f $(INST_FILES)
	@if [ -f $(INST_RECORD) ]; then \
		for d in $$(sort -r $(INST_RECORD)); do \
			for i in $(INST_DIRS); do \
				case $$i/ in "$$d"/*) \
					rmdir "$$d" 2>/dev/null && echo "rmdir $$d"; \
					break ;; \
				esac; \
			done; \
		done; \
		for d in $$(cat $(INST_RECORD)); do \
			[ ! -d "$$d" ] || echo "$$d"; \
		done >$(INST_RECORD).tmp; \
		if [ -s $(INST_RECORD).tmp ]; then \
			mv $(INST_RECORD).tmp $(INST_RECORD); \
		else \
			rm -f $(INST_RECORD).tmp $(INST_RECORD); \
		fi; \
	else \
		echo "make uninstall: no $(INST_RECORD) (make clean since install?): only socksify's own directories are removed" >&2; \
		for d in $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DOCDIR); do \
			rmdir "$$d" 2>/dev/null && echo "rmdir $$d"; \
		done; \
	fi; true

clean:
	rm -rf build preload/*.o $(LIB) $(LAUNCHER)
