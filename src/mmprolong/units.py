"""Token lengths as people write them: 131072, 128K or 128k (K = 1024, M = 1024 * 1024), for every command."""

from __future__ import annotations

import argparse


def parse_length(s: str | int) -> int:
    """'8K' -> 8192, '512k' -> 524288, '1M' -> 1048576, '5000' -> 5000, '1.5K' -> 1536; positive whole tokens only."""
    t = str(s).strip().upper().replace("_", "")
    mult = {"K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
    try:
        v = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise ValueError(f"bad length {s!r}: use e.g. 8K, 128K, 512K or a token count") from None
    if v != v or v < 1 or v > 2**40 or v != int(v):
        raise ValueError(f"bad length {s!r}: a whole number of tokens between 1 and 2^40")
    return int(v)


def parse_lengths(s: str | None) -> list[int] | None:
    """'8K,16K, 32768' -> [8192, 16384, 32768]; None or '' -> None."""
    return [parse_length(x) for x in s.split(",") if x.strip()] if s else None


def length_arg(s: str) -> int:
    """argparse type for a token length (131072, 128K, 128k)."""
    try:
        return parse_length(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def format_length(n: int) -> str:
    """131072 -> '128K', 5000 -> '5000'."""
    for unit, m in (("M", 1024 * 1024), ("K", 1024)):
        if n % m == 0:
            return f"{n // m}{unit}"
    return str(n)
