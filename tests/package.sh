#!/bin/sh
# The Debian package, as a user gets it: built from a clean copy of the
# tree, lintian-clean, reproducible, and working once installed.
#
#   1. the version in debian/changelog is the Makefile's VERSION;
#   2. `dpkg-buildpackage -us -uc -b` in two copies of the tree (the files
#      git tracks or would track, without build products), in two different
#      directories, with different umask, time zone and locale (the second
#      with DEB_BUILD_OPTIONS=nocheck): both succeed and give byte-identical
#      .deb files (package and -dbgsym);
#   3. lintian reports no error and no warning on the binary build nor on
#      the source package (dpkg-source -b of a third copy); its whole
#      output, info and pedantic tags included, is printed;
#   4. the .deb holds what it should (binary, stdlib, manual pages,
#      completion, Vim addon, examples), no file in it names the build
#      directory, and the binary is hardened (PIE, RELRO, BIND_NOW, stack
#      protector, fortified calls) and looks for /usr/share/tcproutec;
#   5. as root: `apt-get install ./tcproutec_VERSION_ARCH.deb`, then the
#      installed /usr/bin/tcproutec compiles every example for each target
#      from a directory outside the tree (byte-identical to the golden
#      files), passes the golden suite, finds the stdlib in
#      /usr/share/tcproutec, and its bash completion loads and passes
#      tests/completion.sh; then the package is purged again, so the machine
#      is left as it was. Without root this part is SKIPPED.
#
# Usage: tests/package.sh (from the repository root of a git checkout).
# Ends "N passed, N failed". Takes about two minutes (the two builds run
# side by side). Needs the packages of tools/deps.txt (make deps).
set -u
LC_ALL=C
export LC_ALL
unset TCPROUTEC_PATH TCPROUTEC 2>/dev/null || true
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-package.XXXXXX")
installed=0
cleanup() {
    if [ "$installed" -eq 1 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get remove -y --purge tcproutec > /dev/null 2>&1 ||
            dpkg --purge tcproutec > /dev/null 2>&1
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
indent() { sed 's/^/    /'; }

missing=
for tool in git dpkg-buildpackage dpkg-parsechangelog dpkg-source dh \
            dh_bash-completion dh_vim-addon lintian readelf; do
    command -v "$tool" > /dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    fail "missing tools:$missing (make deps installs tools/deps.txt)"
    finish
fi
if ! git -C "$root" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    fail "$root is not a git checkout: cannot tell sources from build products"
    finish
fi

# ---- 1. one version ----------------------------------------------------------
version=$(sed -n 's/^VERSION *:= *//p' "$root/Makefile")
deb_version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
if [ -n "$version" ] && [ "$version" = "$deb_version" ]; then
    pass "debian/changelog and the Makefile agree: version $version"
else
    fail "the Makefile says VERSION '$version', debian/changelog '$deb_version':" \
       "add a debian/changelog entry (dch -v $version) or fix VERSION"
fi
arch=$(dpkg --print-architecture)
deb=tcproutec_${deb_version}_$arch.deb
dbgsym=tcproutec-dbgsym_${deb_version}_$arch.deb

# ---- 2. two builds in two directories ----------------------------------------
# export_tree DIR: the tree's sources (tracked files and new files not
# ignored, as they are in the working tree) into DIR, without .git or build
# products: what a clean clone would have, uncommitted changes included.
export_tree() {
    mkdir -p "$1"
    (cd "$root" && git ls-files -z --cached --others --exclude-standard --deduplicate |
        xargs -0 -r sh -c 'for f; do
            if [ -e "$f" ] || [ -L "$f" ]; then printf "%s\0" "$f"; fi
        done' sh |
        tar --null --no-recursion -T - -cf -) | tar -C "$1" -xf -
}

one=$tmp/one/tcproutec
two=$tmp/second-build/in/a/longer/directory/tcproutec-copy
export_tree "$one" && export_tree "$two" || fail "cannot copy the tree"
for f in debian/rules debian/control debian/changelog Makefile; do
    [ -f "$one/$f" ] || fail "the copy has no $f (is it committed or at least not ignored?)"
done

(cd "$one" && dpkg-buildpackage -us -uc -b) > "$tmp/one.log" 2>&1 &
pid_one=$!
(cd "$two" && umask 002 && TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 LANG=C.UTF-8 \
    DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) > "$tmp/two.log" 2>&1 &
pid_two=$!
built=1
# check_build NAME PID DIR: the build NAME (its log $tmp/NAME.log) in DIR.
check_build() {
    wait "$2"
    c_st=$?
    if [ "$c_st" -eq 0 ] && [ -f "$(dirname "$3")/$deb" ]; then
        pass "dpkg-buildpackage -us -uc -b in $3"
    else
        fail "dpkg-buildpackage in $3 failed (exit $c_st); end of its log:"
        tail -n 40 "$tmp/$1.log" | indent
        built=0
    fi
}
check_build one "$pid_one" "$one"
check_build two "$pid_two" "$two"
[ "$built" -eq 1 ] || finish
out_one=$(dirname "$one") out_two=$(dirname "$two")
# The test suites ran in the first build (dh_auto_test).
if grep -q '^== build/unit/' "$tmp/one.log" && grep -q 'passed, 0 failed' "$tmp/one.log"; then
    pass "the build ran the unit, golden, error and completion suites"
else
    fail "the first build did not run its test suites (dh_auto_test)"
fi
if grep -q -- '-Werror\( \|$\)' "$tmp/one.log"; then
    fail "the package build compiles with -Werror (debian/rules must pass WERROR=0)"
else
    pass "the package build does not use -Werror"
fi

for f in "$deb" "$dbgsym"; do
    if cmp -s "$out_one/$f" "$out_two/$f"; then
        pass "reproducible: $f is byte-identical from both directories"
    else
        fail "not reproducible: $f differs between the two builds:"
        for d in one two; do
            if [ "$d" = one ]; then dir=$out_one; else dir=$out_two; fi
            mkdir -p "$tmp/x-$d"
            dpkg-deb -I "$dir/$f" > "$tmp/x-$d.info"
            dpkg-deb --fsys-tarfile "$dir/$f" | tar -tvf - > "$tmp/x-$d.list"
            dpkg-deb -x "$dir/$f" "$tmp/x-$d"
            (cd "$tmp/x-$d" && find . -type f -exec sha256sum {} + | sort -k 2) > "$tmp/x-$d.sums"
        done
        diff -u "$tmp/x-one.info" "$tmp/x-two.info" | indent
        diff -u "$tmp/x-one.list" "$tmp/x-two.list" | indent
        diff -u "$tmp/x-one.sums" "$tmp/x-two.sums" | indent
        rm -rf "$tmp/x-one" "$tmp/x-two"
    fi
done

# ---- 3. lintian ----------------------------------------------------------------
src=$tmp/source/tcproutec-$deb_version
export_tree "$src"
if (cd "$tmp/source" && dpkg-source -b "tcproutec-$deb_version") > "$tmp/source.log" 2>&1; then
    pass "dpkg-source -b"
else
    fail "dpkg-source -b failed:"
    indent < "$tmp/source.log"
fi
changes=$out_one/tcproutec_${deb_version}_$arch.changes
dsc=$tmp/source/tcproutec_$deb_version.dsc
for what in "$changes" "$dsc"; do
    [ -f "$what" ] || continue
    # Info and pedantic tags are shown too; only errors and warnings fail.
    # Overrides (debian/*lintian-overrides) must say why, and are listed.
    if lintian --fail-on error,warning --display-info --pedantic --show-overrides \
            "$what" > "$tmp/lintian.out" 2>&1; then
        pass "lintian: no error or warning on $(basename "$what")"
    else
        fail "lintian on $(basename "$what"):"
    fi
    grep -v '^running with root privileges' "$tmp/lintian.out" | indent
done

# ---- 4. contents -----------------------------------------------------------------
dpkg-deb -c "$out_one/$deb" | awk '{ print $6 }' > "$tmp/contents"
for f in ./usr/bin/tcproutec \
         ./usr/share/tcproutec/services.tr ./usr/share/tcproutec/networks.tr \
         ./usr/share/man/man1/tcproutec.1.gz ./usr/share/man/man5/tcproutec.tr.5.gz \
         ./usr/share/bash-completion/completions/tcproutec \
         ./usr/share/vim-tcproutec/syntax/tr.vim ./usr/share/vim-tcproutec/ftdetect/tr.vim \
         ./usr/share/vim/vimfiles/pack/dist-bundle/start/tcproutec \
         ./usr/share/nvim/site/pack/dist-bundle/start/tcproutec \
         ./usr/share/doc/tcproutec/copyright \
         ./usr/share/doc/tcproutec/examples/tcproutec-nft.service \
         ./usr/share/doc/tcproutec/examples/tcproutec-coexist.service \
         ./usr/share/doc/tcproutec/examples/pre-commit \
         ./usr/share/doc/tcproutec/examples/ci-example.yml \
         ./usr/share/doc/tcproutec/examples/README.md \
         ./usr/share/doc/tcproutec/examples/gateway-pair/keepalived.conf \
         ./usr/share/doc/tcproutec/examples/gateway-pair/conntrackd.conf \
         ./usr/share/doc/tcproutec/examples/gateway-pair/tcproutec-notify.sh \
         ./usr/share/doc/tcproutec/examples/article.tr; do
    if grep -qx -- "$f" "$tmp/contents"; then pass "the package has $f"; else fail "the package lacks $f"; fi
done
for f in "$root"/stdlib/*.tr; do
    grep -qx -- "./usr/share/tcproutec/${f##*/}" "$tmp/contents" ||
        fail "the package lacks the stdlib file ${f##*/}"
done
for f in "$root"/examples/*.tr; do
    grep -qx -- "./usr/share/doc/tcproutec/examples/${f##*/}" "$tmp/contents" ||
        fail "the package lacks the example ${f##*/}"
done
mkdir -p "$tmp/x"
dpkg-deb -x "$out_one/$deb" "$tmp/x"
if grep -rlF -e "$out_one" -e "$tmp" "$tmp/x" > "$tmp/paths"; then
    fail "files in the package name the build directory:"
    indent < "$tmp/paths"
else
    pass "no file in the package names the build directory (-ffile-prefix-map)"
fi
exe=$tmp/x/usr/bin/tcproutec
if strings "$exe" | grep -qx /usr/share/tcproutec; then
    pass "the binary looks for its stdlib in /usr/share/tcproutec"
else
    fail "the binary does not name /usr/share/tcproutec (PREFIX=/usr not passed?)"
fi
readelf -hW "$exe" | grep -q 'Type: *DYN' && pass "hardening: PIE" || fail "hardening: not PIE"
readelf -lW "$exe" | grep -q GNU_RELRO && pass "hardening: RELRO" || fail "hardening: no RELRO"
readelf -dW "$exe" | grep -q BIND_NOW && pass "hardening: BIND_NOW" || fail "hardening: no BIND_NOW"
readelf --dyn-syms -W "$exe" > "$tmp/syms"
grep -q '__stack_chk_fail' "$tmp/syms" && pass "hardening: stack protector" ||
    fail "hardening: no stack protector"
grep -q '__[a-z]*printf_chk' "$tmp/syms" && pass "hardening: _FORTIFY_SOURCE" ||
    fail "hardening: no fortified functions (CPPFLAGS not passed?)"

# ---- 5. installed ----------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    skip "installing the package needs root"
    finish
fi
if dpkg-query -W -f '${db:Status-Abbrev}' tcproutec 2> /dev/null | grep -q '^.i'; then
    fail "tcproutec is already installed here; remove it first (apt-get remove tcproutec)" \
       "so that this test can install its own build and leave the machine as it was"
    finish
fi
# apt-get wants a path with a slash to take a file for a package name.
if (cd "$out_one" && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "./$deb") > "$tmp/apt.log" 2>&1; then
    installed=1
    pass "apt-get install ./$deb"
else
    installed=1   # whatever it did, undo it
    fail "apt-get install ./$deb failed:"
    tail -n 20 "$tmp/apt.log" | indent
    finish
fi
bin=/usr/bin/tcproutec
got=$("$bin" --version 2>&1)
[ "$got" = "tcproutec $version" ] && pass "$bin --version: $got" ||
    fail "$bin --version says '$got', not 'tcproutec $version'"

# Every example, each target, from a directory outside the tree; where a
# golden file exists the output must be identical to it.
mkdir -p "$tmp/examples"
cp "$root"/examples/*.tr "$tmp/examples/"
for tr in "$tmp"/examples/*.tr; do
    base=${tr##*/}; base=${base%.tr}
    for target in iptables ip6tables nft; do
        case $target in iptables) ext=v4 ;; ip6tables) ext=v6 ;; nft) ext=nft ;; esac
        if (cd "$tmp/examples" && "$bin" --color=never -t "$target" -o "$base.$ext" "$base.tr") \
                > "$tmp/err" 2>&1 && [ -s "$tmp/examples/$base.$ext" ]; then
            golden=$root/tests/golden/examples/$base.$ext
            if [ ! -f "$golden" ]; then
                pass "installed: $base.tr -t $target"
            elif cmp -s "$golden" "$tmp/examples/$base.$ext"; then
                pass "installed: $base.tr -t $target, identical to tests/golden/examples/$base.$ext"
            else
                fail "installed: $base.tr -t $target differs from tests/golden/examples/$base.$ext"
            fi
        else
            fail "installed: $base.tr -t $target failed:"
            indent < "$tmp/err"
        fi
    done
done
if TCPROUTEC=$bin tests/run-golden.sh > "$tmp/golden.log" 2>&1; then
    pass "installed: the golden suite ($(tail -n 1 "$tmp/golden.log"))"
else
    fail "installed: the golden suite:"
    grep -v '^ok' "$tmp/golden.log" | indent
fi

# The stdlib, from a directory with no stdlib/ in reach: an include of
# services.tr compiles, and a define that clashes with one of it is
# reported at its place in /usr/share/tcproutec.
mkdir -p "$tmp/site"
cat > "$tmp/site/routes.tr" <<'EOF'
include "services.tr"
route broker {
    listen tcp 192.0.2.1:$mqtt
    server 10.0.0.2
}
EOF
if (cd "$tmp/site" && "$bin" -t nft routes.tr) > "$tmp/out" 2> "$tmp/err" &&
        grep -q 1883 "$tmp/out"; then
    pass "installed: include \"services.tr\" compiles outside the tree"
else
    fail "installed: include \"services.tr\" outside the tree:"
    indent < "$tmp/err"
fi
printf 'include "services.tr"\ndefine mqtt = 1884\n' > "$tmp/site/clash.tr"
(cd "$tmp/site" && "$bin" --color=never --check clash.tr) > /dev/null 2> "$tmp/err"
if grep -q '/usr/share/tcproutec/services.tr:[0-9]' "$tmp/err"; then
    pass "installed: services.tr is read from /usr/share/tcproutec"
else
    fail "installed: the stdlib was not found in /usr/share/tcproutec:"
    indent < "$tmp/err"
fi

# bash completion: bash-completion's loader finds it, and it completes.
comp=/usr/share/bash-completion/completions/tcproutec
if bash -c '. /usr/share/bash-completion/bash_completion &&
            __load_completion tcproutec && complete -p tcproutec' 2>&1 |
        grep -q -- '-F _tcproutec'; then
    pass "installed: bash-completion loads the completion of tcproutec"
else
    fail "installed: bash-completion does not load a completion for tcproutec"
fi
if TCPROUTEC=$bin COMPLETION=$comp tests/completion.sh > "$tmp/comp.log" 2>&1; then
    pass "installed: tests/completion.sh ($(tail -n 1 "$tmp/comp.log"))"
else
    fail "installed: tests/completion.sh:"
    grep -v '^ok' "$tmp/comp.log" | indent
fi
if [ -f /usr/share/vim/vimfiles/pack/dist-bundle/start/tcproutec/syntax/tr.vim ]; then
    pass "installed: the Vim addon is in Vim's package path"
else
    fail "installed: no Vim addon under /usr/share/vim/vimfiles/pack/dist-bundle/start"
fi

# Leave the machine as found.
if DEBIAN_FRONTEND=noninteractive apt-get remove -y --purge tcproutec > "$tmp/apt.log" 2>&1 &&
        ! dpkg-query -W -f '${db:Status-Abbrev}' tcproutec 2> /dev/null | grep -q '^.i' &&
        [ ! -e "$bin" ] && [ ! -e /usr/share/tcproutec ]; then
    installed=0
    pass "apt-get remove --purge tcproutec: removed"
else
    fail "the package could not be removed cleanly:"
    tail -n 20 "$tmp/apt.log" | indent
fi

finish
