#!/bin/bash
# bash completion (contrib/bash-completion/tcproutec): what it offers for
# options, targets, -W, --color, --explain=, -D and files, with the
# bash-completion framework loaded (as installed) and without it (the file
# sourced by hand).
#
# The expected lists come from the compiler itself, not from the
# completion: the options from `tcproutec --help` (as tests/options.sh
# reads them), the warning names from compiler/diag.c, the targets from
# what `-t` accepts. A fake binary whose --help lists extra options shows
# that a new option completes without a change to the completion file. The
# completion's static fallback (for when the binary cannot be run) must
# list the options of --help and the warnings of diag.c too: an option
# added to the compiler goes into it in the same change.
#
# Usage: tests/completion.sh (from the repository root). Ends "N passed, N failed".
# Environment: TCPROUTEC (default ./tcproutec), COMPLETION (default
# contrib/bash-completion/tcproutec), BASH_COMPLETION (the framework,
# default /usr/share/bash-completion/bash_completion; modes that need it
# are SKIPPED when it is absent).
set -u
LC_ALL=C
export LC_ALL
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
trc_need_bin completion
comp=${COMPLETION:-contrib/bash-completion/tcproutec}
case "$comp" in /*) ;; *) comp="$root/$comp" ;; esac
framework=${BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}
[ -e "$comp" ] || { echo "completion: $comp: not found" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# The options of --help, read as tests/options.sh reads them.
"$bin" --help | trc_summary_options > "$tmp/help-options"
[ -s "$tmp/help-options" ] || fail "no options read from $bin --help"
# Warning names: the designated initialisers of warning_names[] in diag.c.
sed -n 's/^[[:space:]]*\[W_[A-Z_]*\][[:space:]]*=[[:space:]]*"\([a-z0-9-]*\)".*/\1/p' \
    "$root/compiler/diag.c" | sort -u > "$tmp/warnings"
[ -s "$tmp/warnings" ] || fail "no warning names read from compiler/diag.c"

# complete MODE CMD WORD...: what the completion offers for the command line
# CMD WORD... (the last word is the one being completed, '' for a new one),
# one a line, sorted. Words are split at '=' as bash splits them
# (COMP_WORDBREAKS). MODE: framework or plain. Runs in the directory $tmp/cwd.
complete_line() {
    c_mode=$1
    shift
    (
        cd "$tmp/cwd" || exit 2
        set +u   # as in an interactive shell
        # shellcheck disable=SC1090
        if [ "$c_mode" = framework ]; then . "$framework"; fi
        # shellcheck disable=SC1090
        . "$comp"
        words=()
        for w in "$@"; do
            case $w in
                --*=*) words+=("${w%%=*}" "=" "${w#*=}") ;;
                *) words+=("$w") ;;
            esac
        done
        # "--color=" ends with '=': bash gives the empty word after it
        COMP_WORDS=("${words[@]}")
        COMP_CWORD=$((${#words[@]} - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _tcproutec "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2> /dev/null
        printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u
    )
}
mkdir -p "$tmp/cwd/sub" "$tmp/cwd/rules.tr.d"
cp "$root/examples/article.tr" "$tmp/cwd/"
cp "$root/examples/iot-gateway.tr" "$tmp/cwd/"
touch "$tmp/cwd/notes.txt" "$tmp/cwd/rules.v4"

# expect NAME WANTFILE GOTFILE: same lines
expect() {
    if cmp -s "$2" "$3"; then
        pass "$1"
    else
        fail "$1: want < > got:"
        diff "$2" "$3" | sed 's/^/    /'
    fi
}

# A fake compiler: the real help plus two options the real one lacks.
fake=$tmp/fake/tcproutec
mkdir -p "$tmp/fake"
{
    echo '#!/bin/sh'
    echo 'cat <<"HELP"'
    "$bin" --help | sed '/^  -h, --help/i\
      --since REF       a new option with a value\
      --hooks FILE      a new option with a file\
      --stats           a new option without one'
    echo 'HELP'
} > "$fake"
chmod +x "$fake"

for mode in framework plain; do
    if [ "$mode" = framework ] && [ ! -f "$framework" ]; then
        skip "$mode mode: $framework not found (package bash-completion)"
        continue
    fi
    # Every option of --help is offered (as --opt or --opt=).
    complete_line $mode "$bin" - | sed 's/=$//' | sort -u > "$tmp/got"
    expect "$mode: '-' offers every option of --help" "$tmp/help-options" "$tmp/got"
    complete_line $mode "$bin" --col > "$tmp/got"
    echo --color= > "$tmp/want"
    expect "$mode: --col" "$tmp/want" "$tmp/got"

    # Targets: exactly the three, each accepted by the compiler.
    complete_line $mode "$bin" -t '' > "$tmp/got"
    printf '%s\n' ip6tables iptables nft > "$tmp/want"
    expect "$mode: -t offers the targets" "$tmp/want" "$tmp/got"
    while read -r t; do
        "$bin" -t "$t" --check "$root/examples/article.tr" > /dev/null 2>&1 ||
            fail "$mode: -t $t is offered but refused by the compiler"
    done < "$tmp/got"
    complete_line $mode "$bin" --target n > "$tmp/got"
    echo nft > "$tmp/want"
    expect "$mode: --target n" "$tmp/want" "$tmp/got"
    complete_line $mode "$bin" --target=ip > "$tmp/got"
    printf '%s\n' ip6tables iptables > "$tmp/want"
    expect "$mode: --target=ip" "$tmp/want" "$tmp/got"

    # -W: error, no-error and each warning of diag.c, on and off.
    complete_line $mode "$bin" -W '' > "$tmp/got"
    { printf '%s\n' error no-error; sed 'p; s/^/no-/' "$tmp/warnings"; } | sort -u > "$tmp/want"
    expect "$mode: -W offers error and the warnings of compiler/diag.c" "$tmp/want" "$tmp/got"
    while read -r w; do
        "$bin" -W "$w" --check "$root/examples/article.tr" > /dev/null 2>&1 ||
            fail "$mode: -W $w is offered but refused by the compiler"
    done < "$tmp/got"

    complete_line $mode "$bin" --color= > "$tmp/got"
    printf '%s\n' always auto never > "$tmp/want"
    expect "$mode: --color=" "$tmp/want" "$tmp/got"
    complete_line $mode "$bin" --explain=j > "$tmp/got"
    echo json > "$tmp/want"
    expect "$mode: --explain=j" "$tmp/want" "$tmp/got"

    # -D: the defines of the .tr file on the line, as NAME=.
    complete_line $mode "$bin" article.tr -D '' > "$tmp/got"
    printf '%s\n' app= private= public= > "$tmp/want"
    expect "$mode: -D offers the defines of article.tr" "$tmp/want" "$tmp/got"

    # Files: .tr files and directories; -o any file; -I directories.
    complete_line $mode "$bin" '' | sed 's:/$::' > "$tmp/got"
    printf '%s\n' article.tr iot-gateway.tr rules.tr.d sub > "$tmp/want"
    expect "$mode: a source: .tr files and directories" "$tmp/want" "$tmp/got"
    complete_line $mode "$bin" -o r | sed 's:/$::' > "$tmp/got"
    printf '%s\n' rules.tr.d rules.v4 > "$tmp/want"
    expect "$mode: -o: any file" "$tmp/want" "$tmp/got"
    complete_line $mode "$bin" --verify n > "$tmp/got"
    echo notes.txt > "$tmp/want"
    expect "$mode: --verify: any file" "$tmp/want" "$tmp/got"
    complete_line $mode "$bin" -I '' | sed 's:/$::' > "$tmp/got"
    printf '%s\n' rules.tr.d sub > "$tmp/want"
    expect "$mode: -I: directories" "$tmp/want" "$tmp/got"

    # A new option completes without a change to the completion file.
    complete_line $mode "$fake" -- > "$tmp/got"
    for o in --since --hooks --stats; do
        if grep -qx -- "$o" "$tmp/got"; then
            pass "$mode: an option new in --help ($o) is offered"
        else
            fail "$mode: an option new in --help ($o) is not offered"
        fi
    done
    complete_line $mode "$fake" --hooks n > "$tmp/got"
    echo notes.txt > "$tmp/want"
    expect "$mode: --hooks FILE (new in --help) completes files" "$tmp/want" "$tmp/got"
    complete_line $mode "$fake" --since '' > "$tmp/got"
    : > "$tmp/want"
    expect "$mode: --since REF (new in --help) takes a value, not a file" "$tmp/want" "$tmp/got"

    # Without a binary to ask, the static lists.
    complete_line $mode "$tmp/no-such/tcproutec" --t > "$tmp/got"
    echo --target > "$tmp/want"
    expect "$mode: without a binary: the static options" "$tmp/want" "$tmp/got"
    complete_line $mode "$tmp/no-such/tcproutec" -W no- > "$tmp/got"
    sed 's/^/no-/' "$tmp/warnings" | { echo no-error; cat; } | sort -u > "$tmp/want"
    expect "$mode: without a binary: the static warnings" "$tmp/want" "$tmp/got"
done

# The static fallback against --help: the same options. The completion asks
# the binary, and the fallback serves only when it cannot be run, but the
# two ship together: an option added to --help goes into
# _tcproutec_static_options in the same change.
complete_line plain "$tmp/no-such/tcproutec" - | sed 's/=$//' | sort -u > "$tmp/static"
expect "the static option list of the completion is the options of --help" \
    "$tmp/help-options" "$tmp/static"

finish
