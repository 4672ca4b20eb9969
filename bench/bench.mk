# bench/bench.mk: benchmarks (included by the Makefile).
#
#   make bench          generate the inputs, measure compiling (both
#                       targets), ferm, loading and per-connection cost in
#                       network namespaces, profile the compiler, and write
#                       bench/results.md (and the Performance block of
#                       README.md). About 6-10 minutes on 2 cores. Goals
#                       (issue 16) are ratios measured side by side: the
#                       compile against `cat` of its input and output, the
#                       loads against a lean nft table and a kube-proxy-
#                       shaped iptables file that bench/gen.py writes.
#   make bench-deps     install its packages (tools/bench-deps.txt)
#   make bench-quick    the same with fewer runs and no callgrind (a smoke
#                       test of the machinery; its figures are rough)
#   make bench-prof     only the profiling build (frame pointers) below
#   make bench-delta    --since deltas against full reloads at 10k routes
#                       (compile and load, nft and both iptables backends,
#                       in a namespace): bench/delta.sh writes
#                       bench/results-delta.md. About 5-10 minutes; as root.
#                       BENCH_DELTA_RUNS: runs per figure (default 10).
#
# Knobs (environment or make variables): BENCH_RUNS_SMALL (runs for 1k/10k
# files), BENCH_RUNS_BIG (100k), BENCH_FERM_RUNS, BENCH_LOAD_RUNS_10K,
# BENCH_LOAD_RUNS_50K, BENCH_CONN (connections per route), BENCH_CALLGRIND
# (0 to skip callgrind), BENCH_README (0: leave README.md alone).
#
# Everything generated goes to bench/out/ (git-ignored). Network tests run
# only in namespaces named trc-bench-<PID>-*, created and deleted by
# bench/netbench.sh; the host's own firewall is never touched. ferm runs as
# `ferm --remote` (prints rules, changes nothing), inside a throwaway
# namespace as well.

BENCH_OUT       := bench/out
BENCH_PROF_B    := $(BENCH_OUT)/prof
BENCH_PROF_BIN  := $(BENCH_PROF_B)/tcproutec


# The bench's own packages (tools/bench-deps.txt), kept out of make deps.
bench-deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    $$(grep -v '^#' tools/bench-deps.txt)

.PHONY: bench bench-quick bench-prof bench-deps bench-delta

bench: tcproutec bench-prof
	bench/run.sh

bench-delta: tcproutec
	bench/delta.sh

bench-quick: tcproutec bench-prof
	BENCH_RUNS_SMALL=3 BENCH_RUNS_BIG=1 BENCH_FERM_RUNS=1 \
	BENCH_LOAD_RUNS_10K=2 BENCH_LOAD_RUNS_50K=1 BENCH_CONN=200 \
	BENCH_CALLGRIND=0 BENCH_README=0 BENCH_RESULTS=$(BENCH_OUT)/results-quick.md \
	    bench/run.sh

# The same sources and flags as ./tcproutec, plus frame pointers so that
# `perf record -g` sees whole call chains. A recursive make with B set to
# the profiling directory: one list of sources, one set of rules.
ifeq ($(B),$(BENCH_PROF_B))
$(BENCH_PROF_BIN): $(B)/main.o $(B)/libtrc.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
endif

bench-prof: tcproutec
	+$(MAKE) --no-print-directory B=$(BENCH_PROF_B) \
	    CFLAGS='-O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer' \
	    $(BENCH_PROF_BIN)
