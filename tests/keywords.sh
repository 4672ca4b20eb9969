#!/bin/sh
# The keywords of the language are listed once, in compiler/keywords.def
# (the scanner, the parser's tokens and its suggestions are built from
# it). The texts that name them by hand must name the same words, no more
# and no fewer:
#   - the vim syntax file (contrib/vim/syntax/tr.vim): the words of its
#     `syn keyword` groups (but `contained` ones, the TODO markers);
#   - tcproutec.tr(5): the `.Ic` line after "The keywords are" in Lexical
#     rules;
#   - the fuzzing dictionary (fuzz/tr.dict): its kw_* entries.
# The bash completion completes options, their values and file names, not
# the language, so it has no keyword list to check.
#
# Usage: tests/keywords.sh [ROOT]   (default: the working directory)
# Ends "N passed, N failed"; exit 1 when a list differs from keywords.def.
set -u
LC_ALL=C
export LC_ALL
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
root=${1:-$(pwd)}
def=$root/compiler/keywords.def
vim=$root/contrib/vim/syntax/tr.vim
man=$root/man/tcproutec.tr.5
dict=$root/fuzz/tr.dict
for f in "$def" "$vim" "$man" "$dict"; do
    [ -f "$f" ] || { echo "keywords: $f: not found" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-keywords.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

sed -n 's/^KEYWORD("\([^"]*\)", *K_[A-Z0-9_]*)$/\1/p' "$def" | sort > "$tmp/def"
# Every line that looks like an entry must be one the build understands.
if grep '^KEYWORD' "$def" | grep -vq '^KEYWORD("[A-Za-z_][A-Za-z0-9_-]*", K_[A-Z0-9_]*)$'; then
    fail "keywords.def has a KEYWORD line tools/keywords.awk cannot read"
fi
n=$(wc -l < "$tmp/def")
if [ "$n" -lt 10 ]; then
    fail "keywords.def: only $n keywords read"
fi
if [ -n "$(uniq -d "$tmp/def")" ]; then
    fail "keywords.def lists a keyword twice: $(uniq -d "$tmp/def" | tr '\n' ' ')"
fi

# compare WHAT FILE: FILE (one word a line, sorted) against keywords.def.
compare() {
    _missing=$(comm -23 "$tmp/def" "$2" | tr '\n' ' ')
    _extra=$(comm -13 "$tmp/def" "$2" | tr '\n' ' ')
    _dups=$(uniq -d "$2" | tr '\n' ' ')
    if [ -z "$_missing$_extra$_dups" ]; then
        pass "$1: the $n keywords of compiler/keywords.def"
    else
        [ -z "$_missing" ] || fail "$1 lacks: $_missing"
        [ -z "$_extra" ] || fail "$1 has words that are not keywords: $_extra"
        [ -z "$_dups" ] || fail "$1 lists twice: $_dups"
    fi
}

awk '$1 == "syn" && $2 == "keyword" {
        for (i = 4; i <= NF; i++) {
            if ($i == "contained") next
        }
        for (i = 4; i <= NF; i++) print $i
    }' "$vim" | sort > "$tmp/vim"
compare "contrib/vim/syntax/tr.vim" "$tmp/vim"

awk 'found && /^\.Ic / {
        for (i = 2; i <= NF; i++) if ($i != ".") print $i
        done = 1; exit
    }
    /^The keywords are$/ { found = 1 }
    END { if (!done) print "(no .Ic line after \"The keywords are\")" }' "$man" |
    sort > "$tmp/man"
compare "man/tcproutec.tr.5 (Lexical rules)" "$tmp/man"

sed -n 's/^kw_[A-Za-z0-9_]*="\(.*\)"$/\1/p' "$dict" | sort > "$tmp/dict"
compare "fuzz/tr.dict (kw_ entries)" "$tmp/dict"

finish
