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

VERSION = 0.1.0

LIB = preload/libsocksify.so
# The launcher (top-level `socksify`, built): its own sources, and the
# library's configuration loader and handshake machine, compiled in.
LAUNCHER = socksify
LAUNCHER_SRC = launcher/main.c launcher/check.c launcher/explain.c \
	preload/config.c preload/cfgfind.c preload/socks5.c preload/handshake.c
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
	preload/hook_udp.c
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
# (preload/); the installed one has $(LIBDIR) compiled in, and is rebuilt
# for every install (LIBDIR may differ from the last one).
$(LAUNCHER): $(LAUNCHER_DEPS)
	$(CC) $(LAUNCHER_CFLAGS) -o $@ $(LAUNCHER_SRC) $(LDHARDEN) $(LDFLAGS)

build/install/socksify: $(LAUNCHER_DEPS) FORCE
	@mkdir -p $(@D)
	$(CC) $(LAUNCHER_CFLAGS) -DSFY_LIBDIR='"$(LIBDIR)"' -o $@ \
		$(LAUNCHER_SRC) $(LDHARDEN) $(LDFLAGS)

FORCE:

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

install: all build/install/socksify
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libsocksify.so
	install -m 0755 build/install/socksify $(DESTDIR)$(BINDIR)/socksify
	install -m 0644 man/socksify.1 $(DESTDIR)$(MANDIR)/man1/socksify.1

clean:
	rm -rf build preload/*.o $(LAUNCHER)
