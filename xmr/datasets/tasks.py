"""The two task shapes every loader returns and every model/harness consumes.

Plain dataclasses (no behaviour beyond small derived views), so the library, the baselines
and the harness share them without importing each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass
class SkipReport:
    """What a loader dropped and why: ``counts[reason] = rows``, plus a few examples."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def add(self, reason: str, example: str = "", n: int = 1) -> None:
        self.counts[reason] += n
        if example and len(self.examples.setdefault(reason, [])) < self.max_examples:
            self.examples[reason].append(example[:200])

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    def as_dict(self) -> dict:
        return {"total": self.total, "by_reason": dict(self.counts),
                "examples": {k: list(v) for k, v in self.examples.items()}}


@dataclass
class XMRSplit:
    """One split of an XMR task: inputs as texts and/or a feature matrix, and 0/1 labels."""

    Y: sp.csr_matrix  # (n, n_labels) float32 0/1
    texts: list[str] | None = None  # raw inputs (queries), when the dataset has text
    X: sp.csr_matrix | None = None  # (n, D) float32, for pre-featurised datasets

    def __post_init__(self):
        if self.texts is None and self.X is None:
            raise ValueError("an XMR split needs texts or a feature matrix X")
        n = self.Y.shape[0]
        for name, other in (("texts", self.texts), ("X", self.X)):
            if other is not None and (len(other) if name == "texts" else other.shape[0]) != n:
                got = len(other) if name == "texts" else other.shape[0]
                raise ValueError(f"{name} has {got} rows but Y has {n}")

    @property
    def n(self) -> int:
        return self.Y.shape[0]


@dataclass
class XMRDataset:
    """Product retrieval / generic XMR: queries (instances) → products (labels)."""

    name: str
    splits: dict[str, XMRSplit]  # "train", "test", optionally "valid"
    label_ids: list[str]  # label vocabulary: the dataset's own ids (product ids, …)
    label_texts: list[str] | None = None  # product titles, when the dataset has them
    skipped: SkipReport = field(default_factory=SkipReport)
    info: dict = field(default_factory=dict)  # loader settings and notes (protocol used, …)

    @property
    def n_labels(self) -> int:
        return len(self.label_ids)

    def labels_with_training_queries(self) -> np.ndarray:
        """(n_labels,) bool: the label has at least one training *query* row (title rows a
        loader added with ``title_as_input`` are not queries): warm labels; the rest are
        cold, reachable only through their title or features."""
        train = self.splits["train"]
        n_query_rows = int(self.info.get("title_rows", [train.n])[0])
        Y = train.Y[:n_query_rows]
        return np.bincount(Y.indices[Y.data != 0], minlength=self.n_labels) > 0

    def __post_init__(self):
        for split_name, split in self.splits.items():
            if split.Y.shape[1] != self.n_labels:
                raise ValueError(f"split {split_name!r} has {split.Y.shape[1]} label columns "
                                 f"but the label vocabulary has {self.n_labels}")
        if self.label_texts is not None and len(self.label_texts) != self.n_labels:
            raise ValueError(f"{len(self.label_texts)} label texts for {self.n_labels} labels")


@dataclass
class QACSplit:
    """Session-aware query autocompletion examples: (previous query, prefix) → next query.

    ``user_ids`` and ``session_ids`` (int64, one per example, or None when the source has no
    users) say which user and which session each request came from, so an analysis can
    resample users rather than requests (requests of one user are not independent). Both are
    anonymised dense numbers assigned by the loader (never the log's own user id): equal
    numbers mean the same user (session) within one dataset, nothing more.
    """

    prev_queries: list[str]
    prefixes: list[str]
    next_queries: list[str]
    user_ids: np.ndarray | None = None  # (n,) int64: anonymised user of each request
    session_ids: np.ndarray | None = None  # (n,) int64: its session (unique across users)

    def __post_init__(self):
        n = len(self.next_queries)
        if len(self.prev_queries) != n or len(self.prefixes) != n:
            raise ValueError(f"QAC split columns differ in length: {len(self.prev_queries)} "
                             f"previous queries, {len(self.prefixes)} prefixes, {n} next queries")
        for name in ("user_ids", "session_ids"):
            ids = getattr(self, name)
            if ids is None:
                continue
            ids = np.asarray(ids)
            if ids.ndim != 1 or len(ids) != n:
                raise ValueError(f"{name} must hold one id per example ({n}), got shape "
                                 f"{ids.shape}")
            if ids.size and ids.dtype.kind not in "iu":
                raise TypeError(f"{name} must be integers, got dtype {ids.dtype}")
            setattr(self, name, ids.astype(np.int64, copy=False))

    def __eq__(self, other) -> bool:  # the generated one cannot compare the id arrays
        if not isinstance(other, QACSplit):
            return NotImplemented
        return (self.prev_queries == other.prev_queries and self.prefixes == other.prefixes
                and self.next_queries == other.next_queries
                and all(_same_ids(getattr(self, n), getattr(other, n))
                        for n in ("user_ids", "session_ids")))

    @property
    def n(self) -> int:
        return len(self.next_queries)


def _same_ids(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.array_equal(a, b))


@dataclass
class QACDataset:
    name: str
    splits: dict[str, QACSplit]  # "train", "valid", "test"
    skipped: SkipReport = field(default_factory=SkipReport)
    info: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        """Label space: the distinct next queries of the training split, sorted (so a trie
        over them is well defined)."""
        return sorted(set(self.splits["train"].next_queries))

    @property
    def label_freq(self) -> np.ndarray:
        """Training frequency of each label, aligned with :attr:`labels`."""
        counts = Counter(self.splits["train"].next_queries)
        return np.array([counts[q] for q in self.labels], dtype=np.int64)

    def training_matrix(self, split: str = "train"
                        ) -> tuple[list[str], list[str], sp.csr_matrix]:
        """The training problem as qp2q builds it: one row per distinct (previous query,
        prefix) input, in order of first occurrence, and ``Y`` (n_inputs, n_labels) float32
        binarised multi-label, 1 for every next query seen after that input (a repeated pair
        counts once). Returns ``(prev_queries, prefixes, Y)``."""
        sp_ = self.splits[split]
        index = {q: i for i, q in enumerate(self.labels)}
        row_of: dict[tuple[str, str], int] = {}
        rows, cols = [], []
        for prev, prefix, nq in zip(sp_.prev_queries, sp_.prefixes, sp_.next_queries,
                                    strict=True):
            r = row_of.setdefault((prev, prefix), len(row_of))
            c = index.get(nq, -1)
            if c >= 0:
                rows.append(r)
                cols.append(c)
        Y = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                          shape=(len(row_of), len(index)))
        Y.sum_duplicates()
        Y.data[:] = 1.0  # binarised
        inputs = list(row_of)
        return [p for p, _ in inputs], [q for _, q in inputs], Y

    def label_matrix(self, split: str) -> sp.csr_matrix:
        """(n, n_labels) 0/1: the next query's column (an all-zero row when unseen), one row
        per example (for training use `training_matrix`: one row per distinct input)."""
        index = {q: i for i, q in enumerate(self.labels)}
        nq = self.splits[split].next_queries
        cols = [index.get(q, -1) for q in nq]
        rows = [r for r, c in enumerate(cols) if c >= 0]
        cols = [c for c in cols if c >= 0]
        return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                             shape=(len(nq), len(index)))
