"""The dual encoder as a session-aware QAC retriever (Paper 2's setting).

Query tower over ``previous query ⊕ SEP ⊕ prefix``, label tower over the next-query text (every
distinct training next query is a label, with its own text), trained by `DualEncoder` with
in-batch negatives. A request is answered like XMR's filtered output: the candidates are the
labels that start with the prefix (one contiguous range of the sorted labels,
`xmr.qac.suggest.prefix_range`, the filter XMR uses), ranked by cosine with the request's
vector; the first ``k`` are the suggestions.

The separator is the word ``SEPARATOR`` (the n-gram hashing keeps only ``\\w`` runs, so a
punctuation mark would vanish): the previous query's last word and the prefix's first one
then never form a word bigram, and the prefix's words get bigrams with the marker instead.
Every request is encoded, even when no label starts with its prefix (the latency protocol
times the whole path).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from baselines._qac_checks import check_request, check_requests, check_triples
from baselines.dual_encoder import DualEncoder, _torch_settings
from xmr._estimator import ParamsMixin, not_fitted
from xmr._validation import check_int
from xmr.qac.suggest import prefix_range

__all__ = ["QACDualEncoder", "SEPARATOR"]

SEPARATOR = "qsepq"  # a made-up word between the previous query and the prefix
_LABELS_FILE = "qac_labels.json"
_KIND = "baselines.dual_encoder.QACDualEncoder"
FORMAT_VERSION = 1


def request_text(prev_query: str, prefix: str) -> str:
    """The query tower's input text of one request."""
    return f"{prev_query} {SEPARATOR} {prefix}"


class QACDualEncoder(ParamsMixin):
    """Dual-encoder QAC retriever; see the module docstring.

    Parameters
    ----------
    encoder : DualEncoder
        The (unfitted) two-tower model and its hyperparameters; ``fit`` trains it.
    """

    def __init__(self, encoder: DualEncoder):
        self.encoder = encoder

    def fit(self, prev_queries: Sequence[str], prefixes: Sequence[str],
            next_queries: Sequence[str], *, valid_fraction: float = 0.1,
            valid: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
            checkpoint: str | os.PathLike | None = None) -> QACDualEncoder:
        """Train on N requests and their next queries; the labels are the sorted distinct
        next queries. ``valid_fraction`` of the requests are held out for the encoder's early
        stopping on recall@10 (`DualEncoder.fit`); or ``valid`` = (prev_queries, prefixes,
        next_queries), held-out requests to early-stop on instead (``valid_fraction`` must
        then be 0; a next query outside the labels counts as a miss). ``checkpoint``: the
        encoder's per-epoch checkpoint file (`DualEncoder.fit`)."""
        if not isinstance(self.encoder, DualEncoder):
            raise TypeError(f"encoder must be a DualEncoder, got {type(self.encoder).__name__}")
        prev, pre, nxt = check_triples(prev_queries, prefixes, next_queries, "training")
        labels = sorted(set(nxt))
        index = {q: i for i, q in enumerate(labels)}
        Y = sp.csr_matrix((np.ones(len(nxt), np.float32),
                           (np.arange(len(nxt)), [index[q] for q in nxt])),
                          shape=(len(nxt), len(labels)))
        texts = [request_text(p, x) for p, x in zip(prev, pre)]
        held_out = None
        if valid is not None:
            if not isinstance(valid, tuple | list) or len(valid) != 3:
                raise TypeError("valid must be a (prev_queries, prefixes, next_queries) tuple "
                                "or None")
            vprev, vpre, vnxt = check_triples(*valid, "valid")
            rows = [i for i, q in enumerate(vnxt) if q in index]
            Yv = sp.csr_matrix((np.ones(len(rows), np.float32),
                                (rows, [index[vnxt[i]] for i in rows])),
                               shape=(len(vnxt), len(labels)))
            held_out = ([request_text(p, x) for p, x in zip(vprev, vpre)], Yv)
        self.encoder.fit(texts, Y, label_texts=labels, valid_fraction=valid_fraction,
                         valid=held_out, checkpoint=checkpoint)
        self.labels_ = labels
        return self

    @property
    def fit_time_s_(self) -> float:
        return float(self.encoder.fit_time_s_)

    @property
    def model_bytes_(self) -> int:
        return int(self.encoder.model_bytes_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise not_fitted("this QACDualEncoder is not fitted yet: call "
                                 "fit(prev_queries, prefixes, next_queries) first (or "
                                 "QACDualEncoder.load(folder))")

    @torch.no_grad()
    def suggest(self, prev_query: str, prefix: str, *, k: int = 10) -> list[str]:
        """Up to ``k`` training next queries starting with ``prefix``, by cosine with the
        request (one request, CPU, current torch threads: the latency path)."""
        self._check_fitted()
        check_request(prev_query, prefix)
        k = check_int("k", k, minimum=1)
        enc = self.encoder
        ids = torch.from_numpy(enc._hasher.one(request_text(prev_query, prefix)))
        q = enc.net_.encode_queries(ids, torch.zeros(1, dtype=torch.int64))[0]  # (dim,)
        lo, hi = prefix_range(self.labels_, prefix)
        if hi == lo:
            return []
        scores = enc.label_vectors_[lo:hi] @ q  # (hi - lo,)
        top = torch.topk(scores, min(k, hi - lo)).indices.tolist()
        labels = self.labels_
        return [labels[lo + i] for i in top]

    def suggest_batch(self, prev_queries: Sequence[str], prefixes: Sequence[str], *,
                      k: int = 10) -> list[list[str]]:
        """`suggest` for each request, with the encoder's ``n_threads`` torch threads."""
        prev, pre = check_requests(prev_queries, prefixes)
        with _torch_settings(self.encoder.n_threads, deterministic=False):
            return [self.suggest(p, x, k=k) for p, x in zip(prev, pre)]

    def save(self, folder: str | Path) -> None:
        """The encoder (`DualEncoder.save`) plus ``qac_labels.json`` (the sorted labels)."""
        self._check_fitted()
        folder = Path(folder)
        self.encoder.save(folder)
        (folder / _LABELS_FILE).write_text(json.dumps(
            {"kind": _KIND, "format_version": FORMAT_VERSION, "labels": self.labels_},
            ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> QACDualEncoder:
        encoder = DualEncoder.load(folder)
        path = Path(folder) / _LABELS_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("kind") != _KIND or state.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"not a {_KIND} of format_version {FORMAT_VERSION}")
            labels = list(state["labels"])
        except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise ValueError(f"{path} is missing or damaged: {exc}") from exc
        if len(labels) != encoder.n_labels_ or labels != sorted(set(labels)):
            raise ValueError(f"{path} is damaged: the labels are not sorted and distinct or "
                             f"not one per label vector ({encoder.n_labels_})")
        self = cls(encoder)
        self.labels_ = labels
        return self
