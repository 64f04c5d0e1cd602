"""MinHash values equal to datasketch's MinHash(num_perm, seed) (sha1_hash32, universal permutations mod 2^61 - 1),
computed with numpy alone: importing datasketch pulls in scipy (about 2 s and 100 MB per process), which each
signing worker would pay. tests/corpus/test_neardup_dist.py checks the values against datasketch.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from typing import Iterable

import numpy as np

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


@functools.cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    ab = np.array([(gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64))
                   for _ in range(num_perm)], dtype=np.uint64).T
    return ab[0], ab[1]


def minhash(items: Iterable[bytes], num_perm: int, seed: int = 1) -> np.ndarray:
    """The MinHash values (uint32) of a set of byte strings."""
    hv = np.array([struct.unpack("<I", hashlib.sha1(b).digest()[:4])[0] for b in items], dtype=np.uint64)
    out = np.full(num_perm, _MAX_HASH, dtype=np.uint64)
    a, b = permutations(num_perm, seed)
    for k in range(0, len(hv), 4096):   # bounded temporaries for a long document
        phv = (hv[k:k + 4096, None] * a + b) % _MERSENNE & _MAX_HASH
        out = np.minimum(out, phv.min(axis=0))
    return out.astype(np.uint32)
