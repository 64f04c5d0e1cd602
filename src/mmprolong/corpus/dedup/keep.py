"""The keep rule of near-duplicate detection, shared by the one-process reference and the distributed pipeline.

Documents are visited eval documents first (in the order given), then pool documents most pages first, then by
doc_id. A visited pool document joined by a verified pair (an LSH candidate whose estimated Jaccard similarity is at
least the threshold) to an already *kept* document is a near-duplicate of the best of them: an eval document over a
pool one, then the highest similarity, then the earliest visited; otherwise it is kept. Eval documents are always
kept. The rule only looks at a document's verified neighbours, so it can be applied to each connected component of
the verified pairs on its own (clusters.py) and gives the same answer as one pass over the whole corpus.
"""

from __future__ import annotations

from typing import Iterable


def rank(kind: str, n_pages: int, doc_id: str, position: int = 0) -> tuple:
    """Visiting order: eval documents first (in their `position` order), then pool ones most pages first."""
    return (0, position, "") if kind == "eval" else (1, -int(n_pages), doc_id)


def best_kept(candidates: Iterable[tuple[tuple, str, float, str]]) -> tuple[tuple, str, float, str] | None:
    """Of a document's kept verified neighbours, (rank, kind, similarity, key), the one it is recorded against."""
    return min(candidates, key=lambda c: (c[1] != "eval", -c[2], c[0]), default=None)
