"""The QAC suggestion step (Paper 2): beam search, keep the candidates that complete the
prefix, stop at ``k``.

For a request (previous query, prefix): vectorise (`QACVectorizer`), run the XR-Linear beam
search with ``beam_size`` asking for ``topk`` candidates (the paper: beam 10, topk = beam ×
max leaf size = 1000), keep, best first, the candidates whose label string starts with the
prefix, and return the first ``k`` (10). The labels are sorted (``QACDataset.labels`` is), so
the labels that start with a prefix are one contiguous range of ids (`prefix_range`, two
binary searches) and the filter is an integer range test. When the previous query is empty
the paper makes no suggestion (``empty_prev="none"``, the default); ``empty_prev="prefix"``
ranks on the prefix alone instead.

Every other request is vectorised and predicted, then filtered, as qp2q does (its
``eval/`` scripts time the whole request), even when no label starts with the prefix (on the
AOL subset ~40% of test requests): timing only the requests that did work would understate
latency and inflate throughput. ``skip_unmatched_prefix=True`` answers those requests with
``[]`` before vectorising (same suggestions, less work); it is off by default and off in every
preset. `count_unmatched_prefix` counts the requests it would skip.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import numpy as np

from xmr._validation import check_choice, check_int, check_texts
from xmr.indexers.trie import check_label_strings, encode_strings
from xmr.kernels.beam import POST_PROCESSORS
from xmr.kernels.trie import sorted_lcp
from xmr.params import PREDICT
from xmr.qac.features import QACVectorizer

BATCH_BLOCK = 4096  # requests per block of `suggest_ids_batch` (bounds its memory)

_MAX_CODE_POINT = 0x10FFFF
EMPTY_PREV = ("none", "prefix")


def prefix_range(sorted_labels: Sequence[str], prefix: str) -> tuple[int, int]:
    """``(lo, hi)``: ``sorted_labels[lo:hi]`` are exactly the labels that start with ``prefix``
    (``sorted_labels`` in Python's ``str`` order). ``(lo, lo)`` when there is none; the empty
    prefix gives the whole range."""
    n = len(sorted_labels)
    if not prefix:
        return 0, n
    lo = bisect_left(sorted_labels, prefix)
    last = ord(prefix[-1])
    if last < _MAX_CODE_POINT:  # the smallest string above every completion of prefix
        return lo, bisect_left(sorted_labels, prefix[:-1] + chr(last + 1), lo)
    hi = lo
    while hi < n and sorted_labels[hi].startswith(prefix):
        hi += 1
    return lo, hi


def count_unmatched_prefix(sorted_labels: Sequence[str], prefixes: Sequence[str]) -> int:
    """How many of ``prefixes`` no label of ``sorted_labels`` starts with (the requests that
    ``skip_unmatched_prefix=True`` would answer without predicting)."""
    return sum(lo == hi for lo, hi in (prefix_range(sorted_labels, p) for p in prefixes))


def check_sorted_labels(labels, name: str = "labels") -> list[str]:
    """Labels as a strictly increasing list of str (sorted, distinct), else ValueError."""
    labels = check_label_strings(labels, name)
    _, bad = sorted_lcp(*encode_strings(labels))
    if bad >= 0:
        raise ValueError(f"{name} must be sorted (Python str order) and distinct, as "
                         f"QACDataset.labels is; {name}[{bad - 1}]={labels[bad - 1]!r:.60} is "
                         f"not below {name}[{bad}]={labels[bad]!r:.60}")
    return labels


class QACSuggester:
    """Suggestions of a fitted `QACVectorizer` + `XRLinear` over sorted label strings.

    Parameters
    ----------
    vectorizer : fitted QACVectorizer (its ``n_features_`` = the model's input width)
    model : fitted XRLinear whose label ``i`` is ``labels[i]``
    labels : sorted distinct label strings (``QACDataset.labels``)
    k : int, default 10
        Suggestions per request at most.
    beam_size : int, default ``PredictParams.beam_size`` (10)
        Beam width of the tree search.
    topk : int or None, default None
        Candidates asked of the beam search; None = ``beam_size × model.max_leaf_size``
        (1000 with the paper's settings). Must be >= k.
    empty_prev : {"none", "prefix"}, default "none"
        An empty previous query (after stripping) gets no suggestion ("none", the paper) or is
        ranked on the prefix alone ("prefix").
    post_processor : str, default ``PredictParams.post_processor``
        Beam-search score combiner (`XRLinear.predict`).
    skip_unmatched_prefix : bool, default False
        Answer ``[]`` before vectorising when no label starts with the prefix. The
        suggestions are the same; the work (and so latency/throughput) is not. False (qp2q's
        protocol: every request is vectorised and predicted, then filtered).
    """

    def __init__(self, vectorizer: QACVectorizer, model, labels: Sequence[str], *, k: int = 10,
                 beam_size: int = PREDICT.beam_size, topk: int | None = None,
                 empty_prev: str = "none", post_processor: str = PREDICT.post_processor,
                 skip_unmatched_prefix: bool = False):
        if not isinstance(vectorizer, QACVectorizer):
            raise TypeError(f"vectorizer must be a QACVectorizer, got "
                            f"{type(vectorizer).__name__}")
        vectorizer._check_fitted()
        model._check_fitted()
        self.k = check_int("k", k, minimum=1)
        self.beam_size = check_int("beam_size", beam_size, minimum=1)
        if topk is None:
            topk = beam_size * model.max_leaf_size
        self.topk = check_int("topk", topk, minimum=self.k)
        self.empty_prev = check_choice("empty_prev", empty_prev, EMPTY_PREV)
        self.post_processor = check_choice("post_processor", post_processor, POST_PROCESSORS)
        self.labels = check_sorted_labels(labels)
        if not isinstance(skip_unmatched_prefix, (bool, np.bool_)):
            raise TypeError(f"skip_unmatched_prefix must be a bool, got "
                            f"{type(skip_unmatched_prefix).__name__} {skip_unmatched_prefix!r}")
        self.skip_unmatched_prefix = bool(skip_unmatched_prefix)
        if len(self.labels) != model.n_labels_:
            raise ValueError(f"{len(self.labels)} labels for a model of {model.n_labels_}")
        if vectorizer.n_features_ != model.n_features_in_:
            raise ValueError(f"the vectorizer gives {vectorizer.n_features_} features but the "
                             f"model was trained on {model.n_features_in_}")
        self.vectorizer = vectorizer
        self.model = model

    def _skip(self, prev_query: str) -> bool:
        return self.empty_prev == "none" and not prev_query.strip()

    def suggest(self, prev_query: str, prefix: str) -> list[str]:
        """One request (the latency path: no scipy): up to ``k`` label strings starting with
        ``prefix``, best first."""
        if not isinstance(prev_query, str) or not isinstance(prefix, str):
            raise TypeError(f"prev_query and prefix must be str, got "
                            f"{type(prev_query).__name__} and {type(prefix).__name__}")
        if self._skip(prev_query):
            return []
        lo, hi = prefix_range(self.labels, prefix)
        if lo == hi and self.skip_unmatched_prefix:
            return []
        idx, val = self.vectorizer.transform_one(prev_query, prefix)
        ids, _ = self.model.predict_one(idx, val, beam_size=self.beam_size, topk=self.topk,
                                        post_processor=self.post_processor)
        ids = ids[(ids >= lo) & (ids < hi)][:self.k]
        labels = self.labels
        return [labels[i] for i in ids]

    def suggest_ids_batch(self, prev_queries: Sequence[str], prefixes: Sequence[str]
                          ) -> np.ndarray:
        """Batch: (n, k) int64 label ids, best first, padded with -1."""
        prev_queries = check_texts(prev_queries, "prev_queries")
        prefixes = check_texts(prefixes, "prefixes")
        if len(prev_queries) != len(prefixes):
            raise ValueError(f"prev_queries and prefixes differ in length: "
                             f"{len(prev_queries)} and {len(prefixes)}")
        n = len(prefixes)
        out = np.full((n, self.k), -1, np.int64)
        if n == 0:
            return out
        ranges = np.array([prefix_range(self.labels, p) for p in prefixes],
                          np.int64).reshape(n, 2)
        keep = np.ones(n, np.bool_)
        if self.skip_unmatched_prefix:
            keep &= ranges[:, 1] > ranges[:, 0]
        if self.empty_prev == "none":
            keep &= np.array([bool(q.strip()) for q in prev_queries])
        all_rows = np.flatnonzero(keep)
        # in blocks: the beam's candidates (topk per request) of a whole test set at once
        # would take gigabytes on the full AOL log; each block gives the same rows
        for start in range(0, all_rows.size, BATCH_BLOCK):
            rows = all_rows[start:start + BATCH_BLOCK]
            X = self.vectorizer.transform([prev_queries[i] for i in rows],
                                          [prefixes[i] for i in rows])
            P = self.model.predict(X, beam_size=self.beam_size, topk=self.topk,
                                   post_processor=self.post_processor)
            r = np.repeat(np.arange(rows.size), np.diff(P.indptr))
            lo, hi = ranges[rows, 0][r], ranges[rows, 1][r]
            ok = (P.indices >= lo) & (P.indices < hi)
            r, ids, sc = r[ok], P.indices[ok].astype(np.int64), P.data[ok]
            order = np.lexsort((ids, -sc, r))  # by row, then score down, then lower id
            r, ids = r[order], ids[order]
            starts = np.searchsorted(r, np.arange(rows.size))
            rank = np.arange(r.size) - starts[r]
            top = rank < self.k
            out[rows[r[top]], rank[top]] = ids[top]
        return out

    def suggest_batch(self, prev_queries: Sequence[str], prefixes: Sequence[str]
                      ) -> list[list[str]]:
        """Batch: per request up to ``k`` label strings starting with its prefix, best first
        (the same lists as `suggest`, up to ties in the scores)."""
        labels = self.labels
        return [[labels[i] for i in row if i >= 0]
                for row in self.suggest_ids_batch(prev_queries, prefixes).tolist()]
