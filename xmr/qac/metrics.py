"""QAC metrics (Paper 2) as pure functions over suggestion lists and true next queries.

- **MRR@k**: 1 / (1-based rank of the exact true string among the first ``k`` suggestions),
  0 when absent; mean over all rows (a row without suggestions counts 0).
- **Sentence BLEU** (`sentence_bleu`), as NLTK's ``sentence_bleu(weights=(0.25,)*4,
  smoothing_function=SmoothingFunction().method1)`` with one reference, re-implemented (NLTK
  is not a dependency). Tokens: ``str.split()`` (whitespace). For n = 1..4,
  ``p_n = Σ_g min(count_hyp(g), count_ref(g)) / max(1, #hyp n-grams)``; "method 1" replaces a
  zero numerator by ``epsilon = 0.1`` (so ``p_n = 0.1 / max(1, #hyp n-grams)``); but if no
  unigram matches the score is 0 (NLTK returns 0 before smoothing). Brevity penalty with
  ``c = len(hyp)``, ``r = len(ref)``: 1 if ``c > r``, 0 if ``c == 0``, else
  ``exp(1 - r / c)``. BLEU = BP · exp(Σ_n ¼ ln p_n). A one-word exact match scores
  ``0.1 ** 0.75 ≈ 0.178`` (its 2-, 3-, 4-gram precisions are smoothed zeros), as in NLTK.
- **Rank-weighted BLEU** of one row: ``Σ_i bleu_i / (i + 1) / Σ_i 1 / (i + 1)`` over its
  suggestions (i = 0-based rank; 0 without suggestions); `mean_rank_weighted_bleu` averages
  over rows. This is the ``bleu`` metric of the runs.
- **sacrebleu top-1**: sacrebleu's corpus BLEU (default 13a tokenisation, 0–100) of the first
  suggestion of each row ('' when none) against the true next queries.
- **Slices** (`qac_slices`): MRR@k and rank-weighted BLEU by prefix length (1…9, "10+"), by
  training frequency of the true next query ("0", "1", "2-4", "5-9", "10-99", "100+") and
  seen / unseen in training, as a JSON-ready dict (the ``slices.json`` artifact).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from xmr.qac.suggest import prefix_range

BLEU_MAX_N = 4
BLEU_EPSILON = 0.1  # NLTK SmoothingFunction(epsilon=0.1).method1
FREQ_BUCKETS = ((0, 0, "0"), (1, 1, "1"), (2, 4, "2-4"), (5, 9, "5-9"), (10, 99, "10-99"),
                (100, None, "100+"))
MAX_PREFIX_BUCKET = 10  # prefix lengths 1..9, then "10+"


def _check_rows(suggestions, truths) -> None:
    if isinstance(suggestions, str) or not isinstance(suggestions, Sequence):
        raise TypeError(f"suggestions must be a list of suggestion lists, got "
                        f"{type(suggestions).__name__}")
    if isinstance(truths, str) or not isinstance(truths, Sequence):
        raise TypeError(f"truths must be a list of str, got {type(truths).__name__}")
    if len(suggestions) != len(truths):
        raise ValueError(f"suggestions and truths differ in length: {len(suggestions)} and "
                         f"{len(truths)}")
    for i, row in enumerate(suggestions):
        if isinstance(row, str):
            raise TypeError(f"suggestions[{i}] must be a list of str, got a str {row!r:.60} "
                            "(wrap it in a list)")


def reciprocal_ranks(suggestions: Sequence[Sequence[str]], truths: Sequence[str], *,
                     k: int = 10) -> np.ndarray:
    """(n,) float64: 1 / rank of ``truths[i]`` in ``suggestions[i][:k]``, 0 when absent."""
    _check_rows(suggestions, truths)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rr = np.zeros(len(truths))
    for i, (row, truth) in enumerate(zip(suggestions, truths)):
        for rank, s in enumerate(row[:k]):
            if s == truth:
                rr[i] = 1.0 / (rank + 1)
                break
    return rr


def mrr_at_k(suggestions: Sequence[Sequence[str]], truths: Sequence[str], k: int = 10) -> float:
    """Mean over rows of 1 / (rank of the exact true string in the first ``k``), 0 if absent
    (0.0 for no rows)."""
    rr = reciprocal_ranks(suggestions, truths, k=k)
    return float(rr.mean()) if rr.size else 0.0


def _ngram_counts(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """BLEU-4 of one hypothesis against one reference, uniform weights, NLTK's smoothing
    method 1 (epsilon 0.1), whitespace tokens (see the module doc). In [0, 1]."""
    if not isinstance(hypothesis, str) or not isinstance(reference, str):
        raise TypeError(f"hypothesis and reference must be str, got "
                        f"{type(hypothesis).__name__} and {type(reference).__name__}")
    hyp, ref = hypothesis.split(), reference.split()
    log_p = 0.0
    for n in range(1, BLEU_MAX_N + 1):
        h, r = _ngram_counts(hyp, n), _ngram_counts(ref, n)
        matches = sum(min(c, r[g]) for g, c in h.items())
        if n == 1 and matches == 0:
            return 0.0
        denom = max(1, sum(h.values()))
        log_p += math.log((matches if matches else BLEU_EPSILON) / denom) / BLEU_MAX_N
    c, r_len = len(hyp), len(ref)
    bp = 1.0 if c > r_len else math.exp(1.0 - r_len / c)
    return bp * math.exp(log_p)


def rank_weighted_bleu(suggestions: Sequence[str], truth: str) -> float:
    """One row: Σ_i bleu(s_i, truth) / (i + 1) / Σ_i 1 / (i + 1); 0 without suggestions."""
    if isinstance(suggestions, str):
        raise TypeError("suggestions must be a list of str, got a str (wrap it in a list)")
    if not suggestions:
        return 0.0
    num = sum(sentence_bleu(s, truth) / (i + 1) for i, s in enumerate(suggestions))
    return num / sum(1.0 / (i + 1) for i in range(len(suggestions)))


def mean_rank_weighted_bleu(suggestions: Sequence[Sequence[str]],
                            truths: Sequence[str]) -> float:
    """`rank_weighted_bleu` averaged over rows (0.0 for no rows)."""
    _check_rows(suggestions, truths)
    if not truths:
        return 0.0
    return float(np.mean([rank_weighted_bleu(s, t) for s, t in zip(suggestions, truths)]))


def sacrebleu_top1(suggestions: Sequence[Sequence[str]], truths: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU (0–100, default settings) of each row's first suggestion
    ('' when none) against the true next queries."""
    _check_rows(suggestions, truths)
    import sacrebleu  # optional dependency (the harness extra)

    hyps = [row[0] if len(row) else "" for row in suggestions]
    return float(sacrebleu.corpus_bleu(hyps, [list(truths)]).score)


def qac_metrics(suggestions: Sequence[Sequence[str]], truths: Sequence[str], *,
                k: int = 10) -> dict[str, float]:
    """``{"mrr_at_{k}", "bleu" (mean rank-weighted sentence BLEU), "sacrebleu_top1",
    "n_rows", "coverage" (share of rows with >= 1 suggestion)}``."""
    _check_rows(suggestions, truths)
    n = len(truths)
    return {f"mrr_at_{k}": mrr_at_k(suggestions, truths, k=k),
            "bleu": mean_rank_weighted_bleu(suggestions, truths),
            "sacrebleu_top1": sacrebleu_top1(suggestions, truths) if n else 0.0,
            "n_rows": n,
            "coverage": float(np.mean([len(s) > 0 for s in suggestions])) if n else 0.0}


def qac_per_query(suggestions: Sequence[Sequence[str]], truths: Sequence[str],
                  prefixes: Sequence[str], *, k: int = 10) -> dict[str, np.ndarray]:
    """Each request's own values (their means are ``mrr_at_{k}`` and ``bleu``):
    ``{"reciprocal_rank", "bleu" (rank-weighted sentence BLEU), "prefix_length"}``, each an
    (n,) array (float64; prefix length int64)."""
    _check_rows(suggestions, truths)
    if len(prefixes) != len(truths):
        raise ValueError(f"prefixes and truths differ in length: {len(prefixes)} and "
                         f"{len(truths)}")
    return {"reciprocal_rank": reciprocal_ranks(suggestions, truths, k=k),
            "bleu": np.array([rank_weighted_bleu(s, t) for s, t in zip(suggestions, truths)],
                             dtype=np.float64),
            "prefix_length": np.array([len(p) for p in prefixes], dtype=np.int64)}


def seen_and_matched(labels: Sequence[str], truths: Sequence[str], prefixes: Sequence[str]
                     ) -> dict[str, np.ndarray]:
    """Per request: ``seen`` (1 when the true next query is one of ``labels``, the sorted
    training labels) and ``prefix_matches_label`` (1 when some label starts with the
    prefix); (n,) int64 arrays. An unseen query cannot be suggested by a model that ranks
    labels, and a request whose prefix starts no label gets no suggestion from it."""
    if len(prefixes) != len(truths):
        raise ValueError(f"prefixes and truths differ in length: {len(prefixes)} and "
                         f"{len(truths)}")
    label_set = set(labels)
    seen = np.fromiter((t in label_set for t in truths), dtype=np.int64, count=len(truths))
    matched = np.fromiter((lo < hi for lo, hi in (prefix_range(labels, p) for p in prefixes)),
                          dtype=np.int64, count=len(prefixes))
    return {"seen": seen, "prefix_matches_label": matched}


def _freq_bucket(f: int) -> str:
    for lo, hi, name in FREQ_BUCKETS:
        if f >= lo and (hi is None or f <= hi):
            return name
    raise AssertionError(f)


def qac_slices(suggestions: Sequence[Sequence[str]], truths: Sequence[str],
               prefixes: Sequence[str], train_counts: Mapping[str, int], *,
               k: int = 10) -> dict[str, dict[str, dict[str, float]]]:
    """MRR@k and rank-weighted BLEU per slice: ``{"prefix_length": {"1".."9", "10+"},
    "train_frequency": {"0", "1", "2-4", "5-9", "10-99", "100+"}, "seen": {"seen",
    "unseen"}}``, each ``{"n": rows, f"mrr_at_{k}": ..., "bleu": ...}``; empty slices are left
    out. ``train_counts``: training count of each next query (e.g. a ``Counter`` of the train
    split's next queries); a true query absent from it has frequency 0 (unseen). A prefix of
    length 0 goes to slice "0"."""
    _check_rows(suggestions, truths)
    if len(prefixes) != len(truths):
        raise ValueError(f"prefixes and truths differ in length: {len(prefixes)} and "
                         f"{len(truths)}")
    rr = reciprocal_ranks(suggestions, truths, k=k)
    bleu = np.array([rank_weighted_bleu(s, t) for s, t in zip(suggestions, truths)])
    freq = [int(train_counts.get(t, 0)) for t in truths]
    keys = {
        "prefix_length": [str(len(p)) if len(p) < MAX_PREFIX_BUCKET else f"{MAX_PREFIX_BUCKET}+"
                          for p in prefixes],
        "train_frequency": [_freq_bucket(f) for f in freq],
        "seen": ["seen" if f > 0 else "unseen" for f in freq],
    }
    order = {"prefix_length": [str(i) for i in range(MAX_PREFIX_BUCKET)]
             + [f"{MAX_PREFIX_BUCKET}+"],
             "train_frequency": [name for _, _, name in FREQ_BUCKETS],
             "seen": ["seen", "unseen"]}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for axis, row_keys in keys.items():
        arr = np.array(row_keys, dtype=object)
        out[axis] = {}
        for name in order[axis]:
            m = arr == name
            if m.any():
                out[axis][name] = {"n": int(m.sum()), f"mrr_at_{k}": float(rr[m].mean()),
                                   "bleu": float(bleu[m].mean())}
    return out
