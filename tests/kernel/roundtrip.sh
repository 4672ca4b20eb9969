#!/bin/bash
# roundtrip.sh: every expected iptables file of the golden tests
# (tests/golden/*.v4, tests/golden/examples/*.v4; .v6 files the same way
# with ip6tables-*) loads into a real kernel,
# and the matching save prints it back byte for byte, per table block
# (`*table` to `COMMIT`, `#` lines ignored, blocks in any order, no table
# more or less). Done with iptables-nft-restore and iptables-legacy-restore,
# each in a fresh network namespace, loading twice (a reload must give the
# same tables, not doubled rules).
#
# A --coexist file (its header has a `# coexist:` line) holds only
# tcproutec's own chains: it is loaded with --noflush, and only the TRC-
# chains of the save are compared (declarations and rules, per table).
#
# Expected nft files (tests/golden/*.nft, tests/golden/examples/*.nft) are
# loaded twice with nft -f, and `nft list ruleset` must equal the file less
# its comment lines and the lines before the first `table ... {` (the
# `table`/`delete table` preamble that makes the load replace the table).
# Counter values are normalised (`counter packets N bytes M` read as
# zeros, as --verify-live reads them): a stray packet between the load and
# the listing must not read as a difference.
#
# Usage: tests/kernel/roundtrip.sh [FILE...]     (as root; from anywhere)
# Ends with "N passed, N failed, N skipped".
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

# In the checks (subshells) pass and fail only print; the counts are
# taken from the printed reports.

# check_iptables FILE TOOL: load FILE twice with TOOL-restore (TOOL is
# iptables-nft, ip6tables-legacy, ...) in a fresh namespace, compare the
# save after each load.
check_iptables() {
    local file=$1 tool=$2 load wait_opt coexist=() t
    local label="$file [$tool]" work="$TRC_TMP/work"
    rm -rf "$work"
    mkdir -p "$work"
    split_blocks "$file" "$work/expected"
    grep -q '^# coexist:' "$file" && coexist=(--noflush)
    if ! trc_ns_add rt; then
        fail "$label: could not create a namespace"
        return
    fi
    for load in 1 2; do
        # -w: legacy's xtables lock is one file for all namespaces
        wait_opt=()
        case "$tool" in *-legacy) wait_opt=(-w 60) ;; esac
        if ! nsx rt "$tool-restore" "${wait_opt[@]}" "${coexist[@]}" < "$file" \
                > "$work/load.out" 2>&1; then
            fail "$label: load $load failed:"
            sed 's/^/    /' "$work/load.out"
            trc_del_netns
            return
        fi
        nsx rt "$tool-save" > "$work/save$load" 2>&1
        split_blocks "$work/save$load" "$work/actual$load"
        if [ ${#coexist[@]} -gt 0 ]; then
            for t in "$work/actual$load"/*; do
                grep -E '^(\*|COMMIT$|:TRC-|-A TRC-)' "$t" > "$t.ours"
                mv "$t.ours" "$t"
            done
        fi
        if ! (cd "$work" && diff -ruN expected "actual$load") > "$work/diff"; then
            fail "$label: $tool-save after load $load differs:"
            sed 's/^/    /' "$work/diff"
            trc_del_netns
            return
        fi
    done
    trc_del_netns
    pass "$label"
}

# check_nft FILE: load FILE twice with nft -f in a fresh namespace.
check_nft() {
    local file=$1 load label="$1 [nft]" work="$TRC_TMP/work"
    rm -rf "$work"
    mkdir -p "$work"
    nft_body "$file" > "$work/expected"
    if ! trc_ns_add rt; then
        fail "$label: could not create a namespace"
        return
    fi
    for load in 1 2; do
        if ! nsx rt nft -f "$file" > "$work/load.out" 2>&1; then
            fail "$label: load $load failed:"
            sed 's/^/    /' "$work/load.out"
            trc_del_netns
            return
        fi
        nsx rt nft list ruleset 2>&1 | nft_zero_counters > "$work/list$load"
        if ! (cd "$work" && diff -u expected "list$load") > "$work/diff"; then
            fail "$label: nft list ruleset after load $load differs:"
            sed 's/^/    /' "$work/diff"
            trc_del_netns
            return
        fi
    done
    trc_del_netns
    pass "$label"
}

cd "$TRC_ROOT" || exit 2
if [ $# -gt 0 ]; then
    files=("$@")
else
    files=()
    for f in tests/golden/*.v4 tests/golden/examples/*.v4 \
             tests/golden/*.v6 tests/golden/examples/*.v6 \
             tests/golden/*.nft tests/golden/examples/*.nft; do
        [ -e "$f" ] && files+=("$f")
    done
fi

reason=$(trc_skip_reason ip)
if [ -n "$reason" ]; then
    skip "kernel round trip of ${#files[@]} files: $reason"
    finish
fi
if [ ${#files[@]} -eq 0 ]; then
    fail "no expected .v4 or .nft files under tests/golden"
    finish
fi

# One job per (file, tool), four at a time, each in a namespace of its own;
# reports are printed in job order.
jobs_out=()
n=0
for f in "${files[@]}"; do
    case "$f" in
        *.nft) tools=(nft) ;;
        *.v6) tools=(ip6tables-nft ip6tables-legacy) ;;
        *) tools=(iptables-nft iptables-legacy) ;;
    esac
    for tool in "${tools[@]}"; do
        cmd=$tool
        [ "$tool" = nft ] || cmd="$tool-restore"
        if ! command -v "$cmd" > /dev/null 2>&1; then
            skip "$f [$tool]: $cmd not found"
            continue
        fi
        n=$((n + 1))
        trc_wait_slots 4
        if [ "$tool" = nft ]; then
            trc_spawn "j$n" "$TRC_TMP/j$n.out" check_nft "$f"
        else
            trc_spawn "j$n" "$TRC_TMP/j$n.out" check_iptables "$f" "$tool"
        fi
        jobs_out+=("$TRC_TMP/j$n.out")
    done
done
trc_wait_all
for out in "${jobs_out[@]}"; do
    cat "$out"
    if grep -q '^ok: ' "$out"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        grep -q '^FAIL: ' "$out" || echo "FAIL: a check ended without a verdict ($out)"
    fi
done
finish
