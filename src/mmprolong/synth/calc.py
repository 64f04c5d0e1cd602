"""The `calc:` line a reasoning item carries in its evidence description, and recomputing its answer from it.

Format: `calc: <op>[<param>](<label>=<value>; <label>=<value>; ...)`, e.g.
`calc: difference(Northwind 2019=4210; Southfield 2019=2150)` or `calc: count_gt[2300](A=1; B=5; C=9)`.
An operand may name its page (1-based document page, as questions do): `Northwind 2019@p14=4210`.
Ops: difference (first minus second), sum, ratio (first / second), max, min (the value), argmax, argmin (the label),
count (number of operands), count_gt (operands above param), count_named (number of operands, each an item named by
its label and found on the page it names: `calc: count_named(Font sizes@p13=1; Font families@p15=1)`, how a count
of headings is checked, since a heading is text, not a number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import fmt_number

OPS = ("difference", "sum", "ratio", "max", "min", "argmax", "argmin", "count", "count_gt", "count_named")
NAMED_OPS = ("count_named",)   # operands checked by label on their page, not by value
_PAGE = re.compile(r"@p(\d+)\s*$")
_LINE = re.compile(r"calc:\s*(?P<op>[a-z_]+)\s*(?:\[(?P<param>[^\]]*)\])?\s*\((?P<args>.*?)\)\s*(?:=|$|\.)", re.S)


@dataclass
class Calc:
    op: str
    operands: list[tuple[str, float]]
    param: float | None = None
    pages: list[int | None] | None = None    # 1-based page of each operand, when the line names it

    def result(self) -> float | str:
        vals = [v for _, v in self.operands]
        if self.op == "difference":
            return vals[0] - vals[1]
        if self.op == "sum":
            return sum(vals)
        if self.op == "ratio":
            return vals[0] / vals[1]
        if self.op in ("max", "min"):
            return (max if self.op == "max" else min)(vals)
        if self.op in ("argmax", "argmin"):
            return (max if self.op == "argmax" else min)(self.operands, key=lambda x: x[1])[0]
        if self.op in ("count", "count_named"):
            return float(len(vals))
        if self.op == "count_gt":
            return float(sum(1 for v in vals if v > self.param))
        raise ValueError(f"unknown calc op {self.op!r}")


def clean_label(s: str) -> str:
    """A label as the calc line writes it (its separators, and `@` that marks a page, made spaces)."""
    return re.sub(r"[;=()\[\]@]", " ", s).strip()


def calc_line(op: str, operands: list[tuple[str, float]], param: float | None = None,
              pages: list[int | None] | None = None) -> str:
    """The `calc:` line; `pages` (1-based, None for an operand without one) adds `@pN` after each label."""
    if op not in OPS:
        raise ValueError(f"unknown calc op {op!r}")
    pages = pages or [None] * len(operands)
    args = "; ".join(f"{clean_label(l)}{'' if pg is None else f'@p{int(pg)}'}={fmt_number(v, 6)}"
                     for (l, v), pg in zip(operands, pages))
    p = f"[{fmt_number(param, 6)}]" if param is not None else ""
    return f"calc: {op}{p}({args})"


def parse_calc(evidence: str) -> Calc | None:
    """The calc in an evidence description; None when there is none or it does not parse."""
    m = _LINE.search(evidence or "")
    if not m or m.group("op") not in OPS:
        return None
    ops, pages = [], []
    for part in m.group("args").split(";"):
        if "=" not in part:
            return None
        label, val = part.rsplit("=", 1)
        pm = _PAGE.search(label)
        pages.append(int(pm.group(1)) if pm else None)
        label = _PAGE.sub("", label)
        try:
            ops.append((label.strip(), float(val.strip().replace(",", ""))))
        except ValueError:
            return None
    op = m.group("op")
    need = {"difference": 2, "ratio": 2}.get(op, 1)
    if len(ops) < need or (op in ("difference", "ratio") and len(ops) != 2):
        return None
    param = None
    if m.group("param"):
        try:
            param = float(m.group("param").replace(",", ""))
        except ValueError:
            return None
    if op == "count_gt" and param is None:
        return None
    if op in NAMED_OPS and any(p is None for p in pages):
        return None
    if op == "ratio" and ops[1][1] == 0:
        return None
    return Calc(op, ops, param, pages if any(p is not None for p in pages) else None)
