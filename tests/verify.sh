#!/bin/sh
# --verify: the staleness check CI runs on committed outputs.
#
#   exit 0, nothing on stdout     the committed file is what the source gives
#   exit 1, a unified diff        it is stale (one probability changed, a
#                                 line gone, a route added to the source)
#   exit 2                        the committed file cannot be read
#
# The diff must be the one diff(1) prints and must patch the stale file
# back into the fresh one. Both targets.
#
# Usage: tests/verify.sh        (from the repository root)
# Environment: TCPROUTEC (default ./tcproutec).
set -eu
LC_ALL=C
export LC_ALL
unset TCPROUTEC_PATH 2>/dev/null || true
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
trc_need_bin verify

tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# run EXPECTED_STATUS NAME ARGS...: runs the compiler in $tmp, stdout to
# $tmp/out, stderr to $tmp/err; checks the exit status.
run() {
    r_want=$1 r_name=$2
    shift 2
    r_status=0
    (cd "$tmp" && exec "$bin" "$@") > "$tmp/out" 2> "$tmp/err" || r_status=$?
    if [ "$r_status" -ne "$r_want" ]; then
        fail "$r_name: exit $r_status, expected $r_want"
        sed 's/^/    /' "$tmp/err"
        return 1
    fi
    return 0
}

cp examples/article.tr examples/iot-gateway.tr "$tmp/"

for target in iptables nft; do
    case $target in
        iptables) out=rules.v4 ;;
        nft) out=routes.nft ;;
    esac

    # fresh: equal, silent
    "$bin" -t "$target" -o "$tmp/$out" "$tmp/article.tr"
    if run 0 "$target: fresh file" -t "$target" --verify "$out" article.tr; then
        if [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then
            fail "$target: fresh file: --verify printed something"
        else
            pass
        fi
    fi

    # stale: one probability (iptables) or one slot count (nft) changed
    cp "$tmp/$out" "$tmp/fresh"
    case $target in
        iptables) sed 's/--probability 0\.50000000000/--probability 0.50000000001/' \
                      "$tmp/fresh" > "$tmp/$out" ;;
        nft) sed 's/numgen random mod 3/numgen random mod 4/' "$tmp/fresh" > "$tmp/$out" ;;
    esac
    if cmp -s "$tmp/fresh" "$tmp/$out"; then
        fail "$target: the test could not make a stale file (output changed?)"
        continue
    fi
    if run 1 "$target: stale file" -t "$target" --verify "$out" article.tr; then
        if ! grep -q "is stale" "$tmp/err"; then
            fail "$target: stale file: no 'is stale' message on stderr"
        elif ! head -n 1 "$tmp/out" | grep -qx -- "--- $out"; then
            fail "$target: stale file: the diff does not start with '--- $out'"
        else
            # the same hunks as diff(1)
            diff -u "$tmp/$out" "$tmp/fresh" | tail -n +3 > "$tmp/gnu" || true
            tail -n +3 "$tmp/out" > "$tmp/ours"
            if ! cmp -s "$tmp/gnu" "$tmp/ours"; then
                fail "$target: stale file: hunks differ from diff -u:"
                diff "$tmp/gnu" "$tmp/ours" | sed 's/^/    /'
            else
                pass
            fi
        fi
    fi

    # stale in many places: a route added to the source; the diff patches
    # the old file into the new one
    "$bin" -t "$target" -o "$tmp/$out" "$tmp/article.tr"
    cat >> "$tmp/article.tr" <<'EOF'
route extra {
    listen udp $public:5353
    server 10.0.0.9:5353 weight 3
    server 10.0.0.10:5353
}
EOF
    if run 1 "$target: source changed" -t "$target" --verify "$out" article.tr; then
        if command -v patch > /dev/null 2>&1; then
            cp "$tmp/$out" "$tmp/patched"
            if patch -s "$tmp/patched" < "$tmp/out" > "$tmp/patch.log" 2>&1 &&
                    "$bin" -t "$target" "$tmp/article.tr" | cmp -s - "$tmp/patched"; then
                pass
            else
                fail "$target: source changed: the diff does not patch the old file into the new"
                sed 's/^/    /' "$tmp/patch.log"
            fi
        else
            "$bin" -t "$target" "$tmp/article.tr" > "$tmp/new"
            diff -u "$tmp/$out" "$tmp/new" | tail -n +3 > "$tmp/gnu" || true
            if tail -n +3 "$tmp/out" | cmp -s - "$tmp/gnu"; then
                pass
            else
                fail "$target: source changed: hunks differ from diff -u"
            fi
        fi
    fi
    cp examples/article.tr "$tmp/article.tr"

    # missing committed file: I/O error, exit 2, nothing on stdout
    if run 2 "$target: missing file" -t "$target" --verify missing.out article.tr; then
        if [ -s "$tmp/out" ]; then
            fail "$target: missing file: something on stdout"
        elif ! grep -q "cannot read missing.out" "$tmp/err"; then
            fail "$target: missing file: no 'cannot read' message"
        else
            pass
        fi
    fi
done

# A directory is not a readable committed file.
mkdir "$tmp/adir"
if run 2 "directory as committed file" --verify adir article.tr; then pass; fi

# A source with errors: exit 1 with diagnostics, and no diff.
printf 'route bad {\n    listen tcp 192.0.2.1:70000\n    server 10.0.0.2:1\n}\n' > "$tmp/bad.tr"
"$bin" -o "$tmp/rules.v4" "$tmp/article.tr"
if run 1 "source with errors" --verify rules.v4 bad.tr; then
    if [ -s "$tmp/out" ] || ! grep -q "error:" "$tmp/err"; then
        fail "source with errors: expected diagnostics and no diff"
    else
        pass
    fi
fi

# Usage errors: --verify writes nothing, so -o and --check are refused.
if run 2 "--verify with -o" --verify rules.v4 -o x.v4 article.tr; then pass; fi
if run 2 "--verify with --check" --verify rules.v4 --check article.tr; then pass; fi

# Other outputs can be verified too: a committed --explain view.
"$bin" --explain -o "$tmp/routes.explain" "$tmp/iot-gateway.tr"
if run 0 "--explain output" --explain --verify routes.explain iot-gateway.tr; then pass; fi

# contrib/pre-commit: refuses a commit whose staged outputs are stale.
hook() {
    h_want=$1 h_name=$2
    h_status=0
    (cd "$tmp/repo" && TCPROUTEC=$bin sh "$root/contrib/pre-commit") \
        > "$tmp/hook.out" 2> "$tmp/hook.err" || h_status=$?
    if [ "$h_status" -ne "$h_want" ]; then
        fail "pre-commit: $h_name: exit $h_status, expected $h_want"
        sed 's/^/    /' "$tmp/hook.err"
    else
        pass
    fi
}
if command -v git > /dev/null 2>&1; then
    mkdir "$tmp/repo"
    (
        cd "$tmp/repo"
        git init -q .
        git config user.email test@example.invalid
        git config user.name test
        cp "$root/examples/article.tr" routes.tr
        "$bin" -o routes.v4 routes.tr
        "$bin" -t nft -o routes.nft routes.tr
        git add routes.tr routes.v4 routes.nft
    )
    hook 0 "fresh outputs staged"
    # shellcheck disable=SC2016 # a literal '$app'
    sed 's/server \$app:1234/server $app:1235/' "$root/examples/article.tr" \
        > "$tmp/repo/routes.tr"
    (cd "$tmp/repo" && git add routes.tr)
    hook 1 "source staged without its outputs"
    if ! grep -q "routes.v4 is stale" "$tmp/hook.err" ||
       ! grep -q "routes.nft is stale" "$tmp/hook.err"; then
        fail "pre-commit: stale outputs not both named:"
        sed 's/^/    /' "$tmp/hook.err"
    fi
    (cd "$tmp/repo" && "$bin" -o routes.v4 routes.tr && "$bin" -t nft -o routes.nft routes.tr &&
        git add routes.v4 routes.nft)
    hook 0 "outputs regenerated and staged"
    # The index is checked, not the working tree.
    cp "$root/examples/article.tr" "$tmp/repo/routes.tr"
    hook 0 "unstaged change in the working tree"
    # A list of outputs, with options.
    (cd "$tmp/repo" && git checkout -q routes.tr &&
        printf '# output source options\nstaging.v4 routes.tr -D public=192.0.2.1\n' \
            > tcproutec.verify &&
        "$bin" -D public=192.0.2.1 -o staging.v4 routes.tr &&
        git add tcproutec.verify staging.v4)
    hook 0 "tcproutec.verify list, fresh"
    (cd "$tmp/repo" && sed -i 's/192.0.2.1/192.0.2.2/' tcproutec.verify && git add tcproutec.verify)
    hook 1 "tcproutec.verify list, stale"
else
    skip "contrib/pre-commit: git is not installed"
fi

finish
