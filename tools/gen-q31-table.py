#!/usr/bin/env python3
"""Writes tests/unit/q31_expected.h: the kernel's 31-bit statistic values
for 1/k (k = 1..1000) and for weighted cases, with the text iptables-save
prints for them. Exact fractions, independent of compiler/balance.c."""
import math
import sys
from decimal import Decimal, getcontext, ROUND_HALF_EVEN
from fractions import Fraction

getcontext().prec = 50


def q31(w, rest):
    return math.floor(Fraction(w * 2**31, rest) + Fraction(1, 2))


def text(q):
    # glibc's printf rounds exact ties to even, as iptables-save shows.
    d = (Decimal(q) / Decimal(2**31)).quantize(Decimal("0.00000000001"),
                                               rounding=ROUND_HALF_EVEN)
    return format(d, "f")


out = ["/* q31_expected.h: round(2^31 / k) for k = 1..1000, and weighted cases.",
       " *",
       " * Generated with Python's exact fractions (tools/gen-q31-table.py),",
       " * independently of compiler/balance.c; do not edit by hand. */",
       "static const unsigned long q31_inverse[1001] = {",
       "\t0, /* unused */"]
vals = [q31(1, k) for k in range(1, 1001)]
for i in range(0, 1000, 6):
    out.append("\t" + ", ".join(f"{v}ul" for v in vals[i:i + 6]) + ",")
out.append("};")
out.append("")
out.append("struct q31_case { unsigned long w, rest, q; const char *text; };")
out.append("static const struct q31_case q31_cases[] = {")
for w, r in [(1, 3), (2, 3), (1, 2), (2, 10), (1000, 1001), (1, 10000000),
             (3, 7), (999, 1000), (5, 6), (1, 4096), (7, 9999991), (1, 1000),
             (250, 10000000)]:
    out.append(f'\t{{{w}ul, {r}ul, {q31(w, r)}ul, "{text(q31(w, r))}"}},')
out.append("};")
sys.stdout.write("\n".join(out) + "\n")
