"""Most-popular completion (MPC), the classic QAC baseline of Paper 2: no session context.

``fit(next_queries)`` counts each distinct training next query (its popularity). For a prefix,
the candidates are the training queries that start with it, ranked by count (ties: the
smaller string first). An unknown prefix (no training query starts with it) backs off by
dropping its last character, repeatedly; when a prefix has fewer than ``k`` completions, the
list is topped up from the shorter prefixes in turn (no duplicates), down to the empty
prefix (the globally most popular queries). So every request gets ``min(k, #labels)``
suggestions, and the first ones always complete the longest known part of the prefix.

Fast at any scale: the queries are kept sorted, so the completions of a prefix are one
contiguous range (two binary searches), and the ``k`` most popular of a range come from a
segment tree of arg-maxima (`xmr.kernels.range_topk.range_topk`, O(k² + k log L)).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xmr._estimator import ParamsMixin, not_fitted
from xmr._validation import check_int, check_texts
from xmr.kernels.range_topk import argmax_tree, range_topk
from xmr.qac.suggest import prefix_range

FORMAT_VERSION = 1
_KIND = "baselines.mpc.MostPopularCompletion"
_FILE = "mpc.json"


class MostPopularCompletion(ParamsMixin):
    """Most-popular completion with back-off and top-up (see the module doc).

    Attributes (after fit)
    ----------
    labels_ : list[str], sorted distinct training next queries
    counts_ : (L,) int64, their training counts
    """

    def fit(self, next_queries: Sequence[str]) -> MostPopularCompletion:
        """Count the training next queries (n,)."""
        next_queries = check_texts(next_queries, "next_queries")
        if not next_queries:
            raise ValueError("next_queries is empty: fit needs at least one query")
        counts = Counter(next_queries)
        labels = sorted(counts)
        self._set_state(labels, np.array([counts[q] for q in labels], np.int64))
        return self

    def _set_state(self, labels: list[str], counts: np.ndarray) -> None:
        self.labels_ = labels
        self.counts_ = counts
        self._tree = argmax_tree(counts)

    def _check_fitted(self) -> None:
        if not hasattr(self, "_tree"):
            raise not_fitted("this MostPopularCompletion is not fitted yet: call "
                                 "fit(next_queries) first (or MostPopularCompletion.load)")

    def suggest_ids(self, prefix: str, k: int = 10) -> list[int]:
        """Label ids (into ``labels_``) of up to ``k`` suggestions for ``prefix``."""
        self._check_fitted()
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        k = check_int("k", k, minimum=1)
        out: list[int] = []
        seen: set[int] = set()
        tree, counts, labels = self._tree, self.counts_, self.labels_
        for cut in range(len(prefix), -1, -1):
            lo, hi = prefix_range(labels, prefix[:cut])
            if hi == lo:
                continue
            # the range contains every id already taken, so k + len(out) best are enough
            for i in range_topk(tree, counts, lo, hi, k + len(out)).tolist():
                if i not in seen:
                    seen.add(i)
                    out.append(i)
                    if len(out) == k:
                        return out
            if hi - lo == len(labels):
                break
        return out

    def suggest(self, prefix: str, k: int = 10) -> list[str]:
        """Up to ``k`` suggestions for ``prefix``, best first."""
        ids = self.suggest_ids(prefix, k)
        return [self.labels_[i] for i in ids]

    def suggest_batch(self, prefixes: Sequence[str], k: int = 10) -> list[list[str]]:
        """`suggest` for each prefix."""
        prefixes = check_texts(prefixes, "prefixes")
        return [self.suggest(p, k) for p in prefixes]

    # -------------------------------------------------------------- persistence

    def save(self, folder: str | Path) -> None:
        """Write ``mpc.json`` (the sorted queries and their counts) to ``folder``."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _FILE).write_text(json.dumps({
            "kind": _KIND, "format_version": FORMAT_VERSION, "labels": self.labels_,
            "counts": self.counts_.tolist()}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> MostPopularCompletion:
        path = Path(folder) / _FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a saved MostPopularCompletion: {_FILE} "
                                    "is missing")
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("kind") != _KIND or state.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"not a {_KIND} of format_version {FORMAT_VERSION}")
            labels, counts = list(state["labels"]), np.array(state["counts"], np.int64)
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise ValueError(f"{path} is damaged: {exc!r}") from exc
        if len(labels) != counts.size or labels != sorted(set(labels)):
            raise ValueError(f"{path} is damaged: labels are not sorted and distinct or do "
                             "not match the counts")
        self = cls()
        self._set_state(labels, counts)
        return self
