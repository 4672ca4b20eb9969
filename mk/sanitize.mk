# mk/sanitize.mk: the suite under sanitizers and valgrind (included by the
# Makefile).
#
#   make test-asan       compiler and unit tests built with AddressSanitizer
#                        and UBSan into build/asan/; runs the unit tests and
#                        the golden and error cases against that binary
#   make test-valgrind   every golden case (each target it has an expected
#                        file for) and every error case compiled by
#                        ./tcproutec under valgrind
#
# The sanitized build is a recursive make with B=build/asan, so that it uses
# the Makefile's own sources, flags and rules. Its stdlib directory is the
# checkout's (DATADIR), the same path ./tcproutec finds beside itself, so
# that messages naming it match the expected files.

ASAN_B        := build/asan
ASAN_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
# A sanitizer finding gets an exit status of its own: a compile that is
# expected to fail (exit 1) cannot hide one.
ASAN_ENV      := ASAN_OPTIONS=detect_leaks=1:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1 \
                 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
VALGRIND      ?= valgrind
# --track-origins=yes doubles the time: add it by hand to find where an
# uninitialised value comes from.
VALGRIND_OPTS := --quiet --leak-check=full --errors-for-leak-kinds=definite,possible
SAN_MAKEFILE  := $(firstword $(MAKEFILE_LIST))

.PHONY: test-asan asan-build test-valgrind

# Only inside the recursive make: a rule for build/asan/tcproutec, so that
# ./tcproutec is never overwritten by a sanitized binary.
ifeq ($(B),$(ASAN_B))
$(B)/tcproutec: $(B)/main.o $(B)/libtrc.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
endif

asan-build:
	+$(MAKE) --no-print-directory -f $(SAN_MAKEFILE) B=$(ASAN_B) \
	    CFLAGS='-O1 -g $(ASAN_SAN)' LDFLAGS='$(ASAN_SAN)' \
	    DATADIR='$(CURDIR)/stdlib' $(ASAN_B)/tcproutec \
	    $(patsubst tests/unit/%.c,$(ASAN_B)/unit/%,$(wildcard tests/unit/test_*.c))

test-asan: asan-build
	@set -e; for t in $(patsubst tests/unit/%.c,$(ASAN_B)/unit/%,$(wildcard tests/unit/test_*.c)); do \
	    echo "== $$t"; env $(ASAN_ENV) $$t; \
	done
	env $(ASAN_ENV) TCPROUTEC=$(ASAN_B)/tcproutec tests/run-golden.sh
	env $(ASAN_ENV) TCPROUTEC=$(ASAN_B)/tcproutec tests/run-errors.sh
	env $(ASAN_ENV) TCPROUTEC=$(CURDIR)/$(ASAN_B)/tcproutec tests/delta.sh

# Golden cases as tests/run-golden.sh runs them: from the .tr's directory,
# once per expected file (.v4 -t iptables, .v6 -t ip6tables, .nft -t nft,
# .explain --explain; -t iptables when there is none), with NAME.args (one
# argument a line; blank and # lines skipped) from beside the expected
# files; a clean compile must give valgrind nothing. Error cases must exit
# 1 (a valgrind finding there exits 99 instead).
# The .args reader and the counters are tests/lib.sh's.
test-valgrind: tcproutec
	@command -v $(VALGRIND) > /dev/null || \
	    { echo "test-valgrind: $(VALGRIND) not found (make deps)" >&2; exit 1; }
	@set -u; root=$$(pwd); . tests/lib.sh; \
	run() { \
	    dir=$$1 base=$$2 args=$$3 want=$$4 code=$$5; shift 5; \
	    ( cd "$$dir" && trc_exec_case "$$args" "$$base.tr" \
	          $(VALGRIND) $(VALGRIND_OPTS) --error-exitcode=$$code \
	          "$$root/tcproutec" --color=never "$$@" \
	    ) > /dev/null 2> "$$root/$(B)/valgrind.log" < /dev/null; \
	    st=$$?; \
	    if [ "$$st" -eq "$$want" ]; then pass; \
	    else fail "$$dir/$$base.tr $*: exit $$st, expected $$want"; \
	        sed 's/^/    /' "$$root/$(B)/valgrind.log"; \
	    fi; \
	}; \
	for tr in tests/golden/*.tr examples/*.tr; do \
	    [ -e "$$tr" ] || continue; \
	    dir=$${tr%/*}; base=$${tr##*/}; base=$${base%.tr}; \
	    case "$$dir" in examples) exp=tests/golden/examples ;; *) exp=$$dir ;; esac; \
	    n=0; \
	    for ext in v4 v6 nft explain; do \
	        [ -f "$$exp/$$base.$$ext" ] || continue; n=$$((n + 1)); \
	        case $$ext in \
	            v4) set -- -t iptables ;; v6) set -- -t ip6tables ;; \
	            nft) set -- -t nft ;; explain) set -- --explain ;; \
	        esac; \
	        run "$$dir" "$$base" "$$root/$$exp/$$base.args" 0 1 "$$@"; \
	    done; \
	    [ "$$n" -gt 0 ] || run "$$dir" "$$base" "$$root/$$exp/$$base.args" 0 1 -t iptables; \
	done; \
	for tr in tests/errors/*.tr; do \
	    [ -e "$$tr" ] || continue; \
	    base=$${tr##*/}; base=$${base%.tr}; \
	    run tests/errors "$$base" "$$root/tests/errors/$$base.args" 1 99; \
	done; \
	echo "valgrind: $$passed passed, $$failed failed"; \
	[ "$$passed" -gt 0 ] && [ "$$failed" -eq 0 ]
