"""Which Ulysses sequence-parallel degrees a model's attention heads allow (light: no torch, for `mmprolong plan`)."""

from __future__ import annotations


def check_degree(sp: int, n_heads: int, n_kv_heads: int) -> None:
    """The degree must split the query heads evenly and either split or evenly replicate the KV heads."""
    if sp < 1:
        raise ValueError(f"parallel.sp must be >= 1, got {sp}")
    if sp == 1:
        return
    if n_heads % sp:
        ok = [d for d in range(1, n_heads + 1) if n_heads % d == 0 and (n_kv_heads % d == 0 or d % n_kv_heads == 0)]
        raise ValueError(f"parallel.sp={sp} does not divide the {n_heads} query heads; valid degrees for "
                         f"{n_heads} query / {n_kv_heads} KV heads: {ok}")
    if n_kv_heads % sp and sp % n_kv_heads:
        ok = [d for d in range(1, n_heads + 1) if n_heads % d == 0 and (n_kv_heads % d == 0 or d % n_kv_heads == 0)]
        raise ValueError(f"parallel.sp={sp} neither divides nor is a multiple of the {n_kv_heads} KV heads; valid "
                         f"degrees for {n_heads} query / {n_kv_heads} KV heads: {ok}")
