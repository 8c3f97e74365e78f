"""Document frequencies -> vocabulary and inverse document frequency (both featurizers).

PECOS's idf (``pecos/core/utils/tfidf.hpp``), the default::

    idf(t) = max(ln(N / (df(t) + 1)), 0)      N = number of fitted texts, df = document freq.

stored as float32, as PECOS does; an n-gram present in at least N - 1 texts gets idf 0.
``"sklearn"`` selects sklearn's smoothed ``ln((1 + N) / (1 + df)) + 1`` (never 0; what qp2q's
``TfidfVectorizer`` uses).
"""

from __future__ import annotations

import numpy as np

from xmr._validation import check_choice

IDF = ("pecos", "sklearn")


def check_idf(idf) -> str:
    """One of :data:`IDF`."""
    return str(check_choice("idf", idf, IDF))


def compute_idf(df: np.ndarray, n_docs: int, kind: str = "pecos") -> np.ndarray:
    """Inverse document frequency, stored as float32: PECOS's ``max(ln(N / (df + 1)), 0)``
    (``kind="pecos"``) or sklearn's smoothed ``ln((1 + N) / (1 + df)) + 1`` ("sklearn")."""
    df = df.astype(np.float64)
    if kind == "sklearn":
        return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
    return np.maximum(np.log(n_docs / (df + 1.0)), 0.0).astype(np.float32)


def check_some_idf_positive(idfs: list[np.ndarray], n_docs: int, texts: str = "texts") -> None:
    """Refuse a fit whose every idf is 0: every transformed row would be all-zero, and a model
    trained on it learns nothing (it used to pass with a warning). ``texts`` names what was
    fitted, for the message."""
    if any(idf.any() for idf in idfs):
        return
    n = sum(idf.size for idf in idfs)
    raise ValueError(
        f"every idf is 0: each of the {n} n-grams occurs in at least N - 1 of the N = "
        f"{n_docs} fitted {texts} (PECOS's idf max(ln(N / (df + 1)), 0)), so every "
        f"transformed row would be empty; fit on more (and more varied) {texts}, or use "
        f"idf='sklearn' (never 0)")


def build_vocab(parts: list[tuple[np.ndarray, np.ndarray]], min_df: int,
                max_features: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-batch (unique hashes, doc counts) -> (sorted hashes uint64, df int64), keeping
    the n-grams with ``df >= min_df`` and at most ``max_features`` of them (highest df first,
    ties by hash)."""
    if not parts:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    if len(parts) == 1:
        hashes, df = parts[0]
    else:
        all_h = np.concatenate([h for h, _ in parts])
        all_c = np.concatenate([c for _, c in parts])
        order = np.argsort(all_h, kind="stable")
        all_h, all_c = all_h[order], all_c[order]
        starts = np.flatnonzero(np.r_[True, all_h[1:] != all_h[:-1]])
        hashes, df = all_h[starts], np.add.reduceat(all_c, starts)
    df = df.astype(np.int64)
    keep = df >= min_df
    hashes, df = hashes[keep], df[keep]
    if max_features is not None and hashes.size > max_features:
        top = np.lexsort((hashes, -df))[:max_features]  # highest df first, ties by hash
        top.sort()  # hashes are sorted, so sorted positions keep them sorted
        hashes, df = hashes[top], df[top]
    return hashes.astype(np.uint64), df
