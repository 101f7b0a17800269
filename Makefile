# libstream: one build for the library, the commands, tests and docs.
# `make SAN=1` builds the same tree with AddressSanitizer and UBSan into
# build/asan (commands in build/asan/bin). `make crash-stress` kills relay
# mid-write in 200 trials (CRASH_TRIALS, CRASH_SEED) and checks what
# --append makes of each file (scripts/crash-stress.sh), against this build.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
AR ?= ar
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wpointer-arith
override CFLAGS += -std=c11 -D_DEFAULT_SOURCE $(WARN)
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
ifeq ($(SAN),1)
OUT ?= build/asan
BIN ?= $(OUT)/bin
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
override LDFLAGS += -fsanitize=address,undefined
else
OUT ?= build
BIN ?= bin
endif

BSD_CFLAGS := $(shell pkg-config --cflags libbsd-overlay 2>/dev/null)
BSD_LIBS := $(shell pkg-config --libs libbsd-overlay 2>/dev/null || echo -lbsd)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# Backends, each built if its client library is there (NO_REDIS=1,
# NO_KAFKA=1, NO_HTTP=1, NO_ETCD=1 or NO_GNUTLS=1 leave one out); without,
# its URIs say what to install.
# The client libraries are not linked: a backend loads its library when
# a URI first needs it (lib/io/dl-internal.h), by the soname and Debian
# package scripts/soname.sh finds here. Test tools that are clients
# themselves (tests/tools/kafka-mock.c) link them (TOOL_LIBS).
dl_flags = $(shell CC='$(CC)' sh scripts/soname.sh $(1) $(2))
# backend NO_VAR,PKG,LIB,NAME: unless NO_VAR=1, if pkg-config knows PKG,
# -DLS_HAVE_NAME, PKG's cflags and the soname of libLIB (LS_SONAME_NAME).
define backend
ifneq ($$($(1)),1)
ifeq ($$(shell pkg-config --exists $(2) && echo y),y)
BROKER_CFLAGS += -DLS_HAVE_$(4) $$(shell pkg-config --cflags $(2)) \
	$$(call dl_flags,$(3),$(4))
TOOL_LIBS += $$(shell pkg-config --libs $(2))
endif
endif
endef
# Redis Streams, Kafka, the HTTP collector (http://), etcd://, and TLS
# for listening sources (tcp:// with --tls-cert)
$(eval $(call backend,NO_REDIS,hiredis,hiredis,HIREDIS))
$(eval $(call backend,NO_KAFKA,rdkafka,rdkafka,RDKAFKA))
$(eval $(call backend,NO_HTTP,libmicrohttpd,microhttpd,MHD))
$(eval $(call backend,NO_ETCD,libcurl,curl,CURL))
$(eval $(call backend,NO_GNUTLS,gnutls,gnutls,GNUTLS))
LIBS = -lz -lpthread -ldl

# The version is written once, as LS_VERSION in the public header; the
# .pc, the shared library's name and the commands (through cmd.h) take it
# from there.
VERSION := $(shell sed -n 's/^\#define LS_VERSION "\(.*\)"$$/\1/p' \
	lib/libstream.h)
SOVER = $(firstword $(subst ., ,$(VERSION)))
# Library sources in lib/ and its subfolders, each object at the same
# path under $(OUT)/obj/lib; every folder holding a header is searched.
LIB_SRC = $(wildcard lib/*.c lib/*/*.c)
LIB_OBJ = $(LIB_SRC:lib/%.c=$(OUT)/obj/lib/%.o)
LIB_INC = -Ilib $(patsubst %/,-I%,$(sort $(dir $(wildcard lib/*/*.h))))
LIB_A = $(OUT)/lib/libstream.a
LIB_SO = $(OUT)/lib/libstream.so.$(VERSION)
CMDS = $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
# the commands' shared code (cmd/lib), compiled once
CMD_LIB_OBJ = $(patsubst cmd/lib/%.c,$(OUT)/obj/cmd/%.o,$(wildcard cmd/lib/*.c))
CMD_LIB = $(OUT)/lib/libcmd.a
CMD_OBJ = $(CMDS:%=$(OUT)/obj/bin/%.o)
CMD_BIN = $(CMDS:%=$(BIN)/%)
UNIT = $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(wildcard tests/unit/test-*.c))
TOOLS = $(patsubst tests/tools/%.c,$(OUT)/tools/%,$(filter-out \
	tests/tools/faultshim.c,$(wildcard tests/tools/*.c)))
# LD_PRELOAD fault injection for tests/bats/faults.bats; never sanitized:
# the sanitizer's own runtime is preloaded before it.
SHIM = $(OUT)/tools/faultshim.so
REPLAY = $(patsubst tests/fuzz/%.c,$(OUT)/replay/%,$(wildcard tests/fuzz/fuzz-*.c))
OBJ = $(LIB_OBJ) $(CMD_LIB_OBJ) $(CMD_OBJ) $(UNIT:$(OUT)/%=$(OUT)/obj/%.o) \
	$(TOOLS:$(OUT)/%=$(OUT)/obj/%.o) $(REPLAY:$(OUT)/%=$(OUT)/obj/%.o) \
	$(OUT)/obj/replay/replay.o

# Header dependencies are generated (each object's .d, beside it). Every
# object and program depends on $(STAMP), which is rewritten only when
# the flags they are built with change: `make NO_REDIS=1` after `make`
# rebuilds without hiredis.
DEPFLAGS = -MMD -MP
STAMP = $(OUT)/flags.stamp
BUILD_FLAGS = CC=$(CC) CFLAGS=$(CFLAGS) LDFLAGS=$(LDFLAGS) \
	BROKER_CFLAGS=$(BROKER_CFLAGS) TOOL_LIBS=$(TOOL_LIBS) \
	NO_REDIS=$(NO_REDIS) NO_KAFKA=$(NO_KAFKA) NO_HTTP=$(NO_HTTP) NO_ETCD=$(NO_ETCD) \
	NO_GNUTLS=$(NO_GNUTLS) \
	BSD_CFLAGS=$(BSD_CFLAGS) \
	BSD_LIBS=$(BSD_LIBS) VERSION=$(VERSION)

.PHONY: all lib tests check crash-stress demo bench bench-compare install uninstall clean \
	deps fuzz FORCE

all: lib $(CMD_BIN) $(OUT)/libstream.pc

lib: $(LIB_A) $(LIB_SO)

tests: all $(UNIT) $(TOOLS) $(SHIM) $(REPLAY)

-include $(OBJ:.o=.d)
# kept: the objects of programs are otherwise intermediate files
.SECONDARY: $(OBJ)

$(STAMP): FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(BUILD_FLAGS))' | cmp -s - $@ || \
		printf '%s\n' '$(subst ','\'',$(BUILD_FLAGS))' > $@

$(OUT)/obj/lib/%.o: lib/%.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(LIB_INC) $(BROKER_CFLAGS) -fPIC \
		-fvisibility=hidden -DLS_BUILDING -c $< -o $@

$(LIB_A): $(LIB_OBJ) $(STAMP)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(LIB_SO): $(LIB_OBJ) $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libstream.so.$(SOVER) -o $@ \
		$(LIB_OBJ) $(LIBS)
	ln -sf libstream.so.$(VERSION) $(OUT)/lib/libstream.so.$(SOVER)
	ln -sf libstream.so.$(SOVER) $(OUT)/lib/libstream.so

$(OUT)/obj/cmd/%.o: cmd/lib/%.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(BSD_CFLAGS) -Ilib -Icmd -c $< -o $@

$(CMD_LIB): $(CMD_LIB_OBJ) $(STAMP)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(CMD_LIB_OBJ)

$(OUT)/obj/bin/%.o: cmd/%.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(BSD_CFLAGS) -Ilib -Icmd -c $< -o $@

$(BIN)/%: $(OUT)/obj/bin/%.o $(CMD_LIB) $(LIB_A) $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< -o $@ $(CMD_LIB) $(LIB_A) $(BSD_LIBS) $(LIBS)

$(OUT)/obj/tests/%.o: tests/unit/%.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(LIB_INC) -c $< -o $@

$(OUT)/tests/%: $(OUT)/obj/tests/%.o $(LIB_A) $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< -o $@ $(LIB_A) $(CMOCKA_LIBS) $(LIBS)

$(OUT)/obj/tools/%.o: tests/tools/%.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(BROKER_CFLAGS) $(BSD_CFLAGS) $(LIB_INC) \
		-c $< -o $@

$(OUT)/tools/%: $(OUT)/obj/tools/%.o $(LIB_A) $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< -o $@ $(LIB_A) $(BSD_LIBS) $(LIBS) \
		-Wl,--as-needed $(TOOL_LIBS)

$(SHIM): tests/tools/faultshim.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(filter-out -fsanitize% -fno-sanitize%,$(CFLAGS)) -shared \
		-fPIC -o $@ $< -ldl

# Each libFuzzer harness built with $(CC) and tests/fuzz/replay.c's main()
# instead of libFuzzer: it runs the harness once on each file named, so
# that tests/bats/fuzz-regress.bats replays the kept inputs under both
# builds without clang.
$(OUT)/obj/replay/%.o: tests/fuzz/%.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -DLS_FUZZ_REPLAY $(LIB_INC) -c $< -o $@

$(OUT)/replay/%: $(OUT)/obj/replay/%.o $(OUT)/obj/replay/replay.o $(LIB_A) \
		$(STAMP)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(OUT)/obj/replay/replay.o -o $@ $(LIB_A) $(LIBS)

# Written only when its text changes (the version, the directories or the
# backends), so that `make install PREFIX=P` after `make` installs a .pc
# for P without rebuilding anything else.
PC_SED = -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'
$(OUT)/libstream.pc: libstream.pc.in FORCE
	@mkdir -p $(@D)
	@sed $(PC_SED) libstream.pc.in > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; \
		else mv -f $@.tmp $@ && echo "wrote $@"; fi

# make fuzz: each libFuzzer harness of tests/fuzz (clang; fuzz-ss: the
# .ss reader, fuzz-line: line framing, fuzz-uri: source and sink URIs,
# fuzz-json: JSON field lookup, fuzz-ndjson: ndjson payload embedding,
# fuzz-split: batch --split) runs FUZZ_SECONDS on a corpus under
# build/fuzz, keeping any crash in tests/fuzz/regress/HARNESS-crash-*;
# then tests/fuzz/diff-ss.py compares the .ss reader with
# tests/ref/ssref.py on FUZZ_MUTATIONS mutated vectors (seed FUZZ_SEED),
# keeping each disagreeing file in tests/fuzz/regress. make check replays
# tests/fuzz/regress (tests/bats/fuzz-regress.bats) and needs no clang.
FUZZ_SECONDS ?= 30
FUZZ_MUTATIONS ?= 5000
FUZZ_SEED ?= $(shell date +%s)
FUZZ = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))

build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard lib/*.h lib/*/*.h)
	@mkdir -p $(@D)
	clang -g -O1 -std=c11 -D_DEFAULT_SOURCE $(LIB_INC) \
		-fsanitize=fuzzer,address,undefined $< $(LIB_SRC) -o $@ -lz \
		-lpthread

fuzz: $(FUZZ) all $(OUT)/tools/ss-tsv
	@mkdir -p build/fuzz/corpus
	cp format/vectors/*.ss format/vectors/corrupt/*.ss build/fuzz/corpus/
	for f in $(FUZZ); do \
		mkdir -p $$f.corpus; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-artifact_prefix=tests/fuzz/regress/$${f##*/}- \
			$$f.corpus build/fuzz/corpus || exit 1; \
	done
	python3 tests/fuzz/diff-ss.py -s $(FUZZ_SEED) -n $(FUZZ_MUTATIONS) \
		--bin $(BIN) --tools $(OUT)/tools --save tests/fuzz/regress

deps:
	sh scripts/deps.sh

check:
	sh scripts/deps.sh
	bash scripts/check.sh

CRASH_TRIALS ?= 200
CRASH_SEED ?=
crash-stress: all
	LS_BIN=$(CURDIR)/$(BIN) bash scripts/crash-stress.sh $(CRASH_TRIALS) \
		$(CRASH_SEED)

demo:
	sh scripts/deps.sh
	$(MAKE) all
	sh scripts/demo.sh

bench:
	sh scripts/deps.sh
	$(MAKE) all tests
	bash scripts/bench.sh

# the two latest runs of make bench, task by task (OLD= NEW= to choose)
bench-compare:
	sh scripts/bench-compare.sh $(OLD) $(NEW)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man5
	install -m 755 $(CMD_BIN) $(DESTDIR)$(BINDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)
	ln -sf libstream.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libstream.so.$(SOVER)
	ln -sf libstream.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libstream.so
	install -m 644 lib/libstream.h $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(OUT)/libstream.pc $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(wildcard man/*.3) $(DESTDIR)$(MANDIR)/man3
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5

uninstall:
	rm -f $(CMDS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(DESTDIR)$(LIBDIR)/libstream.a $(DESTDIR)$(LIBDIR)/libstream.so*
	rm -f $(DESTDIR)$(INCLUDEDIR)/libstream.h
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/libstream.pc
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard man/*.1))
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man3/%,$(wildcard man/*.3))
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man5/%,$(wildcard man/*.5))

clean:
	rm -rf build bin
