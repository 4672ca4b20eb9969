# fuzz/fuzz.mk: libFuzzer over the whole pipeline (included by the Makefile).
#
#   make fuzz           build the harness, fuzz FUZZ_SECONDS (default 60;
#                       at most 120 when CI is set), stop at the first finding
#   make fuzz-long      an hour (FUZZ_SECONDS=3600), going on after findings
#   make fuzz-regress   replay every input in fuzz/regressions/, no fuzzing
#   make fuzz-coverage  line and branch coverage of compiler/ by the seeds
#                       and the corpus (llvm-cov; package llvm)
#
# The library is built a second time into build/fuzz/ by the Makefile's own
# rules, with clang, coverage for the fuzzer and the sanitizers: a recursive
# make with B=build/fuzz, so there is one list of sources and flags. The
# corpus grows in build/fuzz/corpus (not committed), seeded from the golden,
# error, example and stdlib sources and the regressions; what the fuzzer
# finds goes to fuzz/regressions/ (committed) through fuzz/run.sh.

FUZZ_B        := build/fuzz
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_OPTIONS  ?=
FUZZ_BIN      := $(FUZZ_B)/fuzz_compile
FUZZ_CORPUS   := $(FUZZ_B)/corpus
FUZZ_SEEDS    := $(FUZZ_B)/seeds
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
FUZZ_COV_B    := build/fuzz-cov
LLVM_PROFDATA ?= llvm-profdata
LLVM_COV      ?= llvm-cov
FUZZ_SEED_SRCS := $(wildcard tests/golden/*.tr tests/golden/inc/*.tr \
                  tests/errors/*.tr tests/errors/inc/*.tr examples/*.tr \
                  stdlib/*.tr fuzz/regressions/*)

.PHONY: fuzz fuzz-long fuzz-regress fuzz-build fuzz-coverage

# Inside the recursive make B is build/fuzz (or build/fuzz-cov) and
# $(B)/libtrc.a is the instrumented library; the link rule exists only
# there, so that the harness is never linked against the plain build.
ifneq ($(filter $(FUZZ_B) $(FUZZ_COV_B),$(B)),)
$(B)/fuzz_compile.o: fuzz/fuzz_compile.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -DFUZZ_ROOT='"$(CURDIR)"' -c -o $@ $<

$(B)/fuzz_compile: $(B)/fuzz_compile.o $(B)/libtrc.a
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) || { echo "fuzz:" \
	    "cannot link the harness: is libclang-rt-14-dev (libFuzzer) installed?" >&2; exit 1; }
endif

fuzz-build:
	@command -v $(FUZZ_CC) > /dev/null || \
	    { echo "fuzz: $(FUZZ_CC) not found: fuzzing needs clang (make deps)" >&2; exit 1; }
	+$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) \
	    CFLAGS='-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)' \
	    LDFLAGS= $(FUZZ_BIN)

# Seeds get a prefix per directory: golden and error cases share names.
$(FUZZ_SEEDS)/.stamp: $(FUZZ_SEED_SRCS)
	@rm -rf $(FUZZ_SEEDS) && mkdir -p $(FUZZ_SEEDS)
	@for f in $(FUZZ_SEED_SRCS); do \
	    cp "$$f" "$(FUZZ_SEEDS)/$$(echo "$$f" | tr / -)"; \
	done
	@touch $@

fuzz: fuzz-build $(FUZZ_SEEDS)/.stamp
	fuzz/run.sh $(FUZZ_BIN) $(FUZZ_SECONDS) $(FUZZ_CORPUS) $(FUZZ_SEEDS) \
	    $(FUZZ_B)/artifacts $(FUZZ_OPTIONS)

# One worker that survives its findings (-fork=1 runs it in a child).
fuzz-long:
	+$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=3600 FUZZ_OPTIONS='-fork=1 \
	    -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 $(FUZZ_OPTIONS)'

# Each input once, each in its own run so that every failing one is named.
fuzz-regress: fuzz-build
	@set -- fuzz/regressions/*; \
	if [ ! -f "$$1" ]; then \
	    echo "fuzz-regress: no inputs in fuzz/regressions/" >&2; exit 1; \
	fi; \
	failed=0; \
	for f in "$$@"; do \
	    if ! $(FUZZ_BIN) -runs=1 "$$f" > $(FUZZ_B)/regress.log 2>&1; then \
	        failed=$$((failed + 1)); \
	        echo "FAIL: $$f"; \
	        sed -n '/^fuzz_compile: /p; /runtime error/p; /^SUMMARY: /p; /ERROR: [A-Za-z]*Sanitizer/p' \
	            $(FUZZ_B)/regress.log | sed 's/^/    /'; \
	    fi; \
	done; \
	echo "fuzz-regress: $$(($$# - failed)) passed, $$failed failed"; \
	[ "$$failed" -eq 0 ]

# Source-based coverage: the same harness built with clang's profiling
# instead of the sanitizers, run once over every seed and corpus input.
fuzz-coverage: $(FUZZ_SEEDS)/.stamp
	@command -v $(LLVM_COV) > /dev/null && command -v $(LLVM_PROFDATA) > /dev/null || \
	    { echo "fuzz-coverage: $(LLVM_COV) or $(LLVM_PROFDATA) not found (package llvm)" >&2; exit 1; }
	+$(MAKE) --no-print-directory B=$(FUZZ_COV_B) CC=$(FUZZ_CC) \
	    CFLAGS='-O1 -g -fprofile-instr-generate -fcoverage-mapping' \
	    LDFLAGS= $(FUZZ_COV_B)/fuzz_compile
	rm -f $(FUZZ_COV_B)/run.profraw
	LLVM_PROFILE_FILE=$(FUZZ_COV_B)/run.profraw $(FUZZ_COV_B)/fuzz_compile -runs=0 \
	    $(FUZZ_SEEDS) $(wildcard $(FUZZ_CORPUS)) > $(FUZZ_COV_B)/run.log 2>&1 \
	    || { tail -20 $(FUZZ_COV_B)/run.log; exit 1; }
	$(LLVM_PROFDATA) merge -sparse -o $(FUZZ_COV_B)/run.profdata $(FUZZ_COV_B)/run.profraw
	$(LLVM_COV) report $(FUZZ_COV_B)/fuzz_compile -instr-profile=$(FUZZ_COV_B)/run.profdata \
	    $(filter-out compiler/main.c,$(wildcard compiler/*.c)) \
	    $(FUZZ_COV_B)/parser.c $(FUZZ_COV_B)/lexer.c
	@echo "per line: $(LLVM_COV) show $(FUZZ_COV_B)/fuzz_compile" \
	    "-instr-profile=$(FUZZ_COV_B)/run.profdata compiler/sema.c"
