# tcproutec: build, test, install.
#
#   make            build ./tcproutec
#   make test       everything the README and CI run
#   make deps       install the Debian packages the build and tests need
#   make install    PREFIX=/usr/local DESTDIR=
#   make package-check   build the Debian package (debian/) and try it
#   make golden-update / errors-update   regenerate expected files for review
#
# Variables a packager sets (see also debian/rules):
#   PREFIX, DATADIR   where the stdlib is installed, and so where the binary
#                     looks for it (baked in at build time)
#   CFLAGS, CPPFLAGS, LDFLAGS   compiler and linker flags (dpkg-buildflags:
#                     hardening, -ffile-prefix-map); CFLAGS defaults to -O2 -g
#   WERROR=1          the default, and what CI sets: a compiler or bison
#                     warning fails the build (-Werror). WERROR=0 keeps the
#                     warnings but does not fail on them: for release and
#                     package builds, which must not break only because a
#                     newer compiler warns about something new.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
DATADIR   ?= $(PREFIX)/share/tcproutec
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=

CC        ?= cc
BISON     ?= bison
FLEX      ?= flex
# Full (uncompressed) scanner tables, 8-bit: measured on the uniform-10000
# bench input (callgrind, --check), trc_yylex 67.1 M instructions with
# flex's default compressed tables, 37.6 M with -Cf, 40.6 M with -CF,
# 44.0 M with -Cfe; the whole compile 10% fewer. -8 because the full
# tables otherwise cover 7-bit input only (the rules match UTF-8 bytes).
FLEXFLAGS ?= -Cf -8
B         := build

WERROR    ?= 1
ifeq ($(WERROR),1)
WERROR_FLAG := -Werror
else ifeq ($(WERROR),0)
WERROR_FLAG :=
else
$(error WERROR must be 1 (warnings fail the build) or 0, not '$(WERROR)')
endif
WARN      := -Wall -Wextra $(WERROR_FLAG)
CFLAGS    ?= -O2 -g
CPPFLAGS  ?=
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CPPFLAGS) $(CFLAGS) \
             -I$(B) -Icompiler \
             -DTRC_VERSION='"$(VERSION)"' -DTRC_STDLIB_DIR='"$(DATADIR)"'
LDLIBS    ?=
# --stats: the chi-square test (exp, lgamma)
LDLIBS    += -lm

LIB_SRCS  := $(filter-out compiler/main.c,$(wildcard compiler/*.c))
LIB_OBJS  := $(patsubst compiler/%.c,$(B)/%.o,$(LIB_SRCS)) $(B)/parser.o $(B)/lexer.o
HDRS      := $(wildcard compiler/*.h compiler/*.def) $(B)/parser.h $(B)/lexer.h \
             $(B)/keywords-lookup.h

.PHONY: FORCE all test check unit golden errors kernel scale-100k trace lint-man deps install live \
        verify-cli determinism install-check build-check options-check completion-check \
        keywords-check \
        package-check \
        uninstall clean golden-update errors-update

all: tcproutec

$(B):
	@mkdir -p $(B)

# The grammar with the keyword tokens of compiler/keywords.def written in
# (tools/keywords.awk): the keywords are listed once, there.
$(B)/parser.y: grammar/parser.y compiler/keywords.def tools/keywords.awk | $(B)
	awk -f tools/keywords.awk compiler/keywords.def grammar/parser.y > $@.tmp
	mv $@.tmp $@

# The scanner's keyword lookup (compiler/keywords.c), from the same list.
$(B)/keywords-lookup.h: compiler/keywords.def tools/keywords.awk | $(B)
	awk -v mode=lookup -f tools/keywords.awk compiler/keywords.def > $@.tmp
	mv $@.tmp $@

# One bison run makes both files, even under -j.
$(B)/parser.c $(B)/parser.h &: $(B)/parser.y | $(B)
	$(BISON) -Wall $(WERROR_FLAG) -o $(B)/parser.c --header=$(B)/parser.h $<

$(B)/lexer.c $(B)/lexer.h &: grammar/lexer.l | $(B)
	$(FLEX) $(FLEXFLAGS) --header-file=$(B)/lexer.h -o $(B)/lexer.c $<

$(B)/%.o: compiler/%.c $(HDRS) | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Every object is compiled with -DTRC_VERSION and -DTRC_STDLIB_DIR, and
# several use them (the version is in each output's header): rebuild them
# all when VERSION, PREFIX or DATADIR change (the stamp is rewritten only
# when its text differs, so an unchanged value rebuilds nothing).
$(B)/main.o $(LIB_OBJS): $(B)/datadir.stamp
$(B)/datadir.stamp: FORCE | $(B)
	@echo '$(DATADIR) $(VERSION)' | cmp -s - $@ || echo '$(DATADIR) $(VERSION)' > $@
FORCE:

$(B)/parser.o: $(B)/parser.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/lexer.o: $(B)/lexer.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libtrc.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

tcproutec: $(B)/main.o $(B)/libtrc.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests: one cmocka binary per module.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRCS))

$(B)/unit/%: tests/unit/%.c $(B)/libtrc.a $(HDRS)
	@mkdir -p $(B)/unit
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(B)/libtrc.a -lcmocka $(LDLIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

golden: tcproutec
	tests/run-golden.sh

errors: tcproutec
	tests/run-errors.sh

kernel: tcproutec
	tests/kernel/run.sh

# 100,000 PaaS-shaped apps with all three loaders (not in make test).
scale-100k: tcproutec
	tests/kernel/scale.sh 100000

trace: tcproutec
	tests/trace/run.sh

verify-cli: tcproutec
	tests/verify.sh
	tests/output.sh
	tests/delta.sh

# --stats and --verify-live on recorded listings (tests/live/listings).
live: tcproutec
	tests/live/run.sh

determinism: tcproutec
	tests/determinism.sh
	tests/stable.sh

install-check: tcproutec
	tests/install.sh

build-check:
	tests/build.sh

options-check: tcproutec
	tests/options.sh

completion-check: tcproutec
	tests/completion.sh

# The keywords of compiler/keywords.def against the vim syntax file, the
# man page's list and the fuzzing dictionary.
keywords-check:
	tests/keywords.sh

# The Debian package (debian/): built twice from clean copies of the tree
# (reproducible), lintian-clean, installed with apt-get, tried, purged.
# Needs root for the install part; CI runs it after make test.
package-check:
	tests/package.sh

lint-man:
	mandoc -Tlint -W warning man/tcproutec.1 man/tcproutec.tr.5

test: all unit golden errors verify-cli live options-check completion-check keywords-check \
      install-check build-check \
      determinism lint-man \
      test-asan test-valgrind fuzz-regress kernel trace

check: test

golden-update: tcproutec
	tests/run-golden.sh --update

errors-update: tcproutec
	tests/run-errors.sh --update

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$(grep -v '^#' tools/deps.txt)

install: tcproutec
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 tcproutec $(DESTDIR)$(BINDIR)/tcproutec
	install -m 644 stdlib/*.tr $(DESTDIR)$(DATADIR)/
	install -m 644 man/tcproutec.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/tcproutec.tr.5 $(DESTDIR)$(MANDIR)/man5/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tcproutec $(DESTDIR)$(MANDIR)/man1/tcproutec.1 \
	      $(DESTDIR)$(MANDIR)/man5/tcproutec.tr.5
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf $(B) build tcproutec

# Benchmarks (bench/) and fuzzing (fuzz/) keep their rules beside them.
-include bench/bench.mk
-include fuzz/fuzz.mk
# Sanitizer and valgrind runs (test-asan, test-valgrind), docs (graph).
-include mk/sanitize.mk
-include mk/docs.mk
# The compile-only matrix of compilers, levels and sanitizers (build-matrix).
-include mk/matrix.mk
