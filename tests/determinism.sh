#!/bin/sh
# Determinism: the output is a function of the source files and the options
# only. Every golden case (tests/golden/*.tr, with its .args) and every
# example is compiled for every output (-t iptables, -t ip6tables, -t nft,
# --explain, --explain=json, --graph, and --coexist: -t iptables, -t nft,
# --hooks) once as a reference, in the case's
# directory with a relative path, under a bare environment, LC_ALL=C and
# TZ=UTC; then again
#
#   - under LC_ALL=de_DE.UTF-8 (decimal comma) and tr_TR.UTF-8 (dotless i),
#   - under TZ=Asia/Kolkata (a half-hour offset),
#   - from / with an absolute path, and from the repository root with a
#     relative one,
#   - with the caller's whole environment plus unrelated variables (malloc
#     perturbation, POSIXLY_CORRECT, NO_COLOR, TERM=dumb, ...),
#   - with a gcc -O0 build and a clang -O2 build of the same sources,
#
# and each run must give the same bytes as the reference. A locale that is
# not installed is generated into a temporary LOCPATH with localedef; if
# that cannot be done the locale part is SKIPPED with the reason. A missing
# compiler fails: gcc and clang are in tools/deps.txt.
#
# Usage: tests/determinism.sh        (from the repository root)
# Environment: TCPROUTEC (default ./tcproutec), CLANG (default clang),
# GCC (default gcc).
set -eu
LC_ALL=C
export LC_ALL
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
trc_need_bin determinism

tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-determinism.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# ---- the other builds ---------------------------------------------------

# build NAME CC CFLAGS: the Makefile's own rules, objects and generated
# parser in a build directory of their own; the binary in $tmp/NAME, with
# the tree's stdlib beside it as in the source tree.
build() {
    b_name=$1 b_cc=$2 b_cflags=$3
    if ! command -v "$b_cc" > /dev/null 2>&1; then
        fail "build $b_name: '$b_cc' is not installed (tools/deps.txt lists it)"
        return 1
    fi
    mkdir -p "$tmp/$b_name"
    if ! make -s -C "$root" B="$tmp/build-$b_name" CC="$b_cc" CFLAGS="$b_cflags" \
            "$tmp/build-$b_name/main.o" "$tmp/build-$b_name/libtrc.a" \
            > "$tmp/build-$b_name.log" 2>&1 ||
       ! "$b_cc" -o "$tmp/$b_name/tcproutec" "$tmp/build-$b_name/main.o" \
            "$tmp/build-$b_name/libtrc.a" -lm >> "$tmp/build-$b_name.log" 2>&1; then
        fail "build $b_name with $b_cc failed:"
        sed 's/^/    /' "$tmp/build-$b_name.log"
        return 1
    fi
    ln -s "$root/stdlib" "$tmp/$b_name/stdlib"
    return 0
}

variants="locale-de locale-tr tz-kolkata cwd-root-absolute cwd-repo-relative extra-env"
build gcc-O0 "${GCC:-gcc}" "-O0 -g" && variants="$variants gcc-O0"
build clang-O2 "${CLANG:-clang}" "-O2" && variants="$variants clang-O2"

# ---- locales --------------------------------------------------------------

locpath=""
# locale_works NAME DECIMAL_POINT: the C library really switches to NAME.
locale_works() {
    [ "$(env ${locpath:+LOCPATH="$locpath"} LC_ALL="$1" locale -k decimal_point 2>/dev/null)" \
        = "decimal_point=\"$2\"" ] &&
    [ -z "$(env ${locpath:+LOCPATH="$locpath"} LC_ALL="$1" locale 2>&1 >/dev/null)" ]
}
# need_locale NAME SOURCE DECIMAL_POINT: installed, or generated into $tmp.
need_locale() {
    locale_works "$1" "$3" && return 0
    if command -v localedef > /dev/null 2>&1 && [ -e "/usr/share/i18n/locales/$2" ]; then
        mkdir -p "$tmp/locales"
        localedef -i "$2" -f UTF-8 "$tmp/locales/$1" > /dev/null 2>&1 || true
        locpath="$tmp/locales"
        locale_works "$1" "$3" && return 0
    fi
    return 1
}
if ! need_locale de_DE.UTF-8 de_DE ","; then
    skip "locale de_DE.UTF-8: not installed, and localedef could not make it" \
         "(Debian package 'locales')"
    variants=$(echo "$variants" | sed 's/locale-de //')
fi
if ! need_locale tr_TR.UTF-8 tr_TR ","; then
    skip "locale tr_TR.UTF-8: not installed, and localedef could not make it" \
         "(Debian package 'locales')"
    variants=$(echo "$variants" | sed 's/locale-tr //')
fi

# ---- the runs -------------------------------------------------------------

# compile VARIANT DIR BASE ARGSFILE OUT MODE: one compile, stdout to OUT.
compile() {
    c_variant=$1 c_dir=$2 c_base=$3 c_args=$4 c_out=$5 c_mode=$6
    (
        c_bin=$bin
        c_cwd=$c_dir
        c_file=$c_base.tr
        case $c_variant in
            cwd-root-absolute) c_cwd=/ c_file=$root/$c_dir/$c_base.tr ;;
            cwd-repo-relative) c_cwd=$root c_file=$c_dir/$c_base.tr ;;
            gcc-O0|clang-O2) c_bin=$tmp/$c_variant/tcproutec ;;
        esac
        case $c_dir in
            /*) ;;
            *) c_dir=$root/$c_dir ;;
        esac
        case $c_cwd in
            /*) ;;
            *) c_cwd=$root/$c_cwd ;;
        esac
        cd "$c_cwd"
        # shellcheck disable=SC2086 # the mode is a fixed word list
        set -- $c_mode
        case $c_variant in
            reference|cwd-*|gcc-O0|clang-O2)
                trc_exec_case "$c_args" "$c_file" env -i PATH=/usr/bin:/bin \
                    HOME=/nonexistent LC_ALL=C TZ=UTC "$c_bin" "$@" ;;
            locale-de)
                trc_exec_case "$c_args" "$c_file" env -i PATH=/usr/bin:/bin \
                    HOME=/nonexistent ${locpath:+LOCPATH="$locpath"} \
                    LANG=de_DE.UTF-8 LC_ALL=de_DE.UTF-8 TZ=UTC "$c_bin" "$@" ;;
            locale-tr)
                trc_exec_case "$c_args" "$c_file" env -i PATH=/usr/bin:/bin \
                    HOME=/nonexistent ${locpath:+LOCPATH="$locpath"} \
                    LANG=tr_TR.UTF-8 LC_ALL=tr_TR.UTF-8 TZ=UTC "$c_bin" "$@" ;;
            tz-kolkata)
                trc_exec_case "$c_args" "$c_file" env -i PATH=/usr/bin:/bin \
                    HOME=/nonexistent LC_ALL=C TZ=Asia/Kolkata "$c_bin" "$@" ;;
            extra-env)
                trc_exec_case "$c_args" "$c_file" env MALLOC_PERTURB_=165 MALLOC_CHECK_=3 \
                    POSIXLY_CORRECT=1 NO_COLOR=1 TERM=dumb COLUMNS=7 LANGUAGE=tr \
                    SOURCE_DATE_EPOCH=1 TMPDIR=/nonexistent TCPROUTEC_PATH=/nonexistent \
                    TRC_UNRELATED='x y "z"' "$c_bin" "$@" ;;
        esac
        echo "unknown variant $c_variant" >&2
        exit 99
    ) > "$c_out" 2> "$tmp/err"
}

modes="-t_iptables -t_ip6tables -t_nft --explain --explain=json --graph
       -t_iptables_--coexist -t_nft_--coexist --coexist_--hooks"

# check_case DIR BASE ARGSFILE LABEL
check_case() {
    k_dir=$1 k_base=$2 k_args=$3 k_label=$4
    for mode in $modes; do
        mode=$(echo "$mode" | tr _ ' ')
        if ! compile reference "$k_dir" "$k_base" "$k_args" "$tmp/ref" "$mode"; then
            fail "$k_label [$mode]: the reference compile failed:"
            sed 's/^/    /' "$tmp/err"
            continue
        fi
        for v in $variants; do
            if ! compile "$v" "$k_dir" "$k_base" "$k_args" "$tmp/out" "$mode"; then
                fail "$k_label [$mode] $v: compile failed:"
                sed 's/^/    /' "$tmp/err"
            elif ! cmp -s "$tmp/ref" "$tmp/out"; then
                fail "$k_label [$mode] $v: different bytes:"
                diff -u "$tmp/ref" "$tmp/out" | head -n 20 | sed 's/^/    /'
            else
                pass
            fi
        done
    done
}

ncases=0
for tr in tests/golden/*.tr examples/*.tr; do
    [ -e "$tr" ] || continue
    dir=${tr%/*}
    base=${tr##*/}
    base=${base%.tr}
    case $dir in
        examples) args=$root/tests/golden/examples/$base.args ;;
        *) args=$root/$dir/$base.args ;;
    esac
    check_case "$dir" "$base" "$args" "$tr"
    ncases=$((ncases + 1))
done
if [ "$ncases" -eq 0 ]; then
    fail "no cases found (run from the repository root)"
fi
# shellcheck disable=SC2086 # count the words of $modes
echo "determinism: $ncases cases x $(echo $modes | wc -w) outputs, variants: $variants"
finish
