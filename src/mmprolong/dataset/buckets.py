"""Token-length buckets: one labelling for planning, shards and the data report, so their counts line up."""

from __future__ import annotations

import bisect


def fmt_tokens(n: int) -> str:
    """8192 -> "8K", 131072 -> "128K", 1500 -> "1.5K"."""
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}K"
    if n >= 1024:
        return f"{n / 1024:.1f}K"
    return str(n)


def default_edges(max_length: int) -> list[int]:
    """Powers of two from 1K up to the first one >= max_length (the report's buckets outside histogram mode)."""
    edges = [1024]
    while edges[-1] < max_length:
        edges.append(edges[-1] * 2)
    return edges


def labels(edges: list[int]) -> list[str]:
    return [f"{fmt_tokens(a)}-{fmt_tokens(b)}" for a, b in zip(edges, edges[1:])]


def bucket_of(n_tokens: int, edges: list[int]) -> str:
    """Label of the bucket [edges[i], edges[i+1]) holding n_tokens; the top edge is inclusive (a sample of exactly
    max_length tokens belongs to the last bucket); outside the edges: "<lo" or ">hi"."""
    if n_tokens < edges[0]:
        return f"<{fmt_tokens(edges[0])}"
    if n_tokens > edges[-1]:
        return f">{fmt_tokens(edges[-1])}"
    i = min(bisect.bisect_right(edges, n_tokens) - 1, len(edges) - 2)
    return labels(edges)[i]


def report_edges(max_length: int) -> list[int]:
    """Finer edges for the data report: powers of two from 1K up to an eighth of max_length, then steps of an
    eighth (128K: ..., 16K, 32K, 48K, 64K, 80K, 96K, 112K, 128K), so the long end is not one bucket."""
    step = max(1024, max_length // 8)
    edges = [1024]
    while edges[-1] * 2 <= step:
        edges.append(edges[-1] * 2)
    while edges[-1] < max_length:
        edges.append(min(edges[-1] + step, max_length) if edges[-1] + step <= max_length else edges[-1] + step)
    return edges
