# mk/matrix.mk: the compile-only build matrix (included by the Makefile).
#
#   make -j2 build-matrix   build tcproutec and every unit test, generated
#                           scanner and parser included, with gcc and clang
#                           at -O0 -O1 -O2 -O3 -Os, each without and with
#                           -fsanitize=address,undefined, and with Debian's
#                           packaging flags (dpkg-buildflags CFLAGS,
#                           CPPFLAGS, LDFLAGS); runs nothing
#
# The warnings an optimiser or a sanitizer finds differ from level to level
# (gcc's -Wformat-truncation, -Wstringop-*, -Wmaybe-uninitialized follow
# the inlining), so one -O2 build proves little. Every configuration is a
# recursive make of the Makefile's own rules, with its -Werror, into a
# build directory of its own, build/matrix/CC-OPT[-san] or
# build/matrix/CC-dpkg: a warning anywhere fails the target, naming the
# configuration. Configurations are independent: with -j they run side by
# side. One configuration: make matrix-clang-O3-san.

MATRIX_B       := build/matrix
MATRIX_CCS     := gcc clang
MATRIX_OPTS    := O0 O1 O2 O3 Os
MATRIX_SAN     := -fsanitize=address,undefined
MATRIX_CONFIGS := $(foreach c,$(MATRIX_CCS),$(foreach o,$(MATRIX_OPTS),$(c)-$(o) $(c)-$(o)-san) $(c)-dpkg)
MATRIX_UNITS    = $(patsubst tests/unit/%.c,unit/%,$(wildcard tests/unit/test_*.c))

.PHONY: build-matrix $(addprefix matrix-,$(MATRIX_CONFIGS))

build-matrix: $(addprefix matrix-,$(MATRIX_CONFIGS))
	@echo "build-matrix: $(words $(MATRIX_CONFIGS)) configurations built without a warning"

# Only inside the recursive make: the binary is linked into the build
# directory, never over ./tcproutec.
ifneq ($(filter $(MATRIX_B)/%,$(B)),)
$(B)/tcproutec: $(B)/main.o $(B)/libtrc.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
endif

# matrix-CC-OPT[-san], matrix-CC-dpkg: the words of the name give the
# compiler, the level and the sanitizers. The dpkg flags are asked for
# when that configuration runs, not each time make reads this file.
$(addprefix matrix-,$(MATRIX_CONFIGS)): matrix-%:
	@set -- $(subst -, ,$*); cc=$$1 opt=$$2 san=$${3-}; \
	if [ "$$opt" = dpkg ]; then \
	    command -v dpkg-buildflags > /dev/null || { echo "build-matrix: $*:" \
	        "dpkg-buildflags not found (package dpkg-dev: make deps)" >&2; exit 1; }; \
	    cflags="$$(dpkg-buildflags --get CFLAGS) $$(dpkg-buildflags --get CPPFLAGS)"; \
	    ldflags="$$(dpkg-buildflags --get LDFLAGS)"; \
	else \
	    cflags="-$$opt$${san:+ $(MATRIX_SAN)}" ldflags="$${san:+$(MATRIX_SAN)}"; \
	fi; \
	echo "== build-matrix $*: CC=$$cc CFLAGS='$$cflags' LDFLAGS='$$ldflags'"; \
	$(MAKE) --no-print-directory -s B=$(MATRIX_B)/$* CC="$$cc" CFLAGS="$$cflags" \
	    LDFLAGS="$$ldflags" $(MATRIX_B)/$*/tcproutec \
	    $(addprefix $(MATRIX_B)/$*/,$(MATRIX_UNITS)) || \
	    { echo "build-matrix: $* failed (CC=$$cc CFLAGS='$$cflags')" >&2; exit 1; }
