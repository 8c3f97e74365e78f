"""The suggestion step (beam search → prefix filter → top k) and an end-to-end tiny QAC run."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.mpc import MostPopularCompletion
from xmr import XRLinear
from xmr.datasets.synthetic_qac import make_qac_preset
from xmr.indexers import TrieIndexer
from xmr.qac import (
    QACSuggester,
    QACVectorizer,
    count_unmatched_prefix,
    prefix_range,
    qac_metrics,
)


def test_prefix_range():
    labels = sorted(["", "a", "ab", "abc", "abd", "b", "b\U0010ffff", "b\U0010ffffz", "bc", "é"])
    for p in ("", "a", "ab", "abc", "abcd", "b", "b\U0010ffff", "c", "é", "zz", "\U0010ffff"):
        lo, hi = prefix_range(labels, p)
        assert [s for s in labels if s.startswith(p)] == labels[lo:hi], p
    assert prefix_range(labels, "abcd") == (4, 4)
    assert prefix_range([], "a") == (0, 0)


@pytest.fixture(scope="module")
def tiny():
    ds = make_qac_preset("tiny")
    tr = ds.splits["train"]
    vec = QACVectorizer(prefix_weighting="position").fit(tr.prev_queries, tr.prefixes)
    X = vec.transform(tr.prev_queries, tr.prefixes)
    tree = TrieIndexer(depth=16).build(labels=ds.labels)
    model = XRLinear(nr_splits=2, max_leaf_size=100, n_jobs=1).fit(
        X, ds.label_matrix("train"), tree=tree)
    return ds, vec, model


def test_suggestions_complete_the_prefix(tiny):
    ds, vec, model = tiny
    sug = QACSuggester(vec, model, ds.labels, topk=1000)
    te = ds.splits["test"]
    for prev, prefix in zip(te.prev_queries[:40], te.prefixes[:40]):
        got = sug.suggest(prev, prefix)
        assert len(got) <= 10 and all(s.startswith(prefix) for s in got)
        # = the beam's candidates, best first, that start with the prefix, first 10
        idx, val = vec.transform_one(prev, prefix)
        ids, _ = model.predict_one(idx, val, beam_size=10, topk=1000)
        assert got == [ds.labels[i] for i in ids if ds.labels[i].startswith(prefix)][:10]


def test_batch_equals_single(tiny):
    ds, vec, model = tiny
    te = ds.splits["test"]
    prevs = te.prev_queries[:30] + ["", "  ", "日本 query", "x"]
    prefixes = te.prefixes[:30] + ["a", "b", "日", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"]
    for empty_prev in ("none", "prefix"):
        sug = QACSuggester(vec, model, ds.labels, k=5, topk=200, empty_prev=empty_prev)
        batch = sug.suggest_batch(prevs, prefixes)
        assert batch == [sug.suggest(p, q) for p, q in zip(prevs, prefixes)]
        ids = sug.suggest_ids_batch(prevs, prefixes)
        assert ids.shape == (len(prevs), 5) and ids.dtype == np.int64
    assert sug.suggest_batch([], []) == []


def test_batch_in_blocks_equals_one_block(tiny, monkeypatch):
    """The batch runs in blocks of BATCH_BLOCK requests (memory on the full AOL log): any
    block size gives the same ids."""
    import xmr.qac.suggest as suggest_module

    ds, vec, model = tiny
    te = ds.splits["test"]
    prevs, prefixes = te.prev_queries[:50] + [""], te.prefixes[:50] + ["a"]
    sug = QACSuggester(vec, model, ds.labels, k=5, topk=200)
    whole = sug.suggest_ids_batch(prevs, prefixes)
    assert (whole >= 0).sum() > 50
    for block in (1, 7, 50):
        monkeypatch.setattr(suggest_module, "BATCH_BLOCK", block)
        assert np.array_equal(sug.suggest_ids_batch(prevs, prefixes), whole)


def test_odd_requests(tiny):
    ds, vec, model = tiny
    none = QACSuggester(vec, model, ds.labels)
    assert none.topk == 10 * 100  # beam × max leaf size
    assert none.suggest("", "a") == [] and none.suggest("   ", "a") == []  # the paper: none
    assert none.suggest("some query", "z" * 80) == []  # longer than any label
    assert none.suggest("日本 query", "日本") == []  # non-ASCII, no such label
    with_prefix = QACSuggester(vec, model, ds.labels, empty_prev="prefix")
    got = with_prefix.suggest("", ds.labels[0][:1])
    assert got and all(s.startswith(ds.labels[0][:1]) for s in got)
    # an empty prefix completes to anything
    assert len(none.suggest(ds.splits["test"].prev_queries[0], "")) == 10


def test_bad_construction(tiny):
    ds, vec, model = tiny
    with pytest.raises(ValueError, match="sorted"):
        QACSuggester(vec, model, ds.labels[::-1])
    with pytest.raises(ValueError, match="labels for a model"):
        QACSuggester(vec, model, ds.labels[:-1])
    with pytest.raises(ValueError, match="topk must be >= 10"):
        QACSuggester(vec, model, ds.labels, topk=5)
    with pytest.raises(ValueError, match="empty_prev must be one of"):
        QACSuggester(vec, model, ds.labels, empty_prev="skip")
    with pytest.raises(TypeError, match="QACVectorizer"):
        QACSuggester(object(), model, ds.labels)
    other = QACVectorizer(idf="sklearn").fit(["a b"], ["a"])  # one example: idf > 0
    with pytest.raises(ValueError, match="features"):
        QACSuggester(other, model, ds.labels)
    sug = QACSuggester(vec, model, ds.labels)
    with pytest.raises(TypeError, match="must be str"):
        sug.suggest("a", None)
    with pytest.raises(ValueError, match="differ in length"):
        sug.suggest_batch(["a"], [])


def test_end_to_end_tiny_vs_mpc(tiny):
    """QACVectorizer + trie(16) + XRLinear(B=2, leaf 100) + suggest vs MPC on the tiny preset.

    Measured (seed 0): XMR MRR@10 0.312, BLEU 0.181; MPC MRR@10 0.342, BLEU 0.150 (142 test
    rows, 78 of them with a next query never seen in training; MPC always tops its list up to
    10, XMR suggests only labels that complete the prefix)."""
    ds, vec, model = tiny
    te = ds.splits["test"]
    xmr = qac_metrics(QACSuggester(vec, model, ds.labels).suggest_batch(te.prev_queries,
                                                                        te.prefixes),
                      te.next_queries)
    mpc = MostPopularCompletion().fit(ds.splits["train"].next_queries)
    base = qac_metrics(mpc.suggest_batch(te.prefixes), te.next_queries)
    print(f"\nXMR {xmr}\nMPC {base}")
    assert xmr["mrr_at_10"] > 0.2 and base["mrr_at_10"] > 0.2
    assert xmr["bleu"] > 0.1


class _Spy:
    """Wraps a fitted model and counts the predictions asked of it."""

    def __init__(self, model):
        self.model, self.calls, self.rows = model, 0, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def predict_one(self, *args, **kwargs):
        self.calls += 1
        return self.model.predict_one(*args, **kwargs)

    def predict(self, X, **kwargs):
        self.rows += X.shape[0]
        return self.model.predict(X, **kwargs)


def test_unmatched_prefix_is_predicted_by_default(tiny):
    """qp2q's protocol: every request is vectorised and predicted, then filtered, even when no
    label starts with its prefix; the shortcut is an explicit option, off by default."""
    ds, vec, model = tiny
    unmatched = "zzzzzzzzzzzzzzzzzzzz"
    assert count_unmatched_prefix(ds.labels, [unmatched, "", ds.labels[0][:1]]) == 1
    spy = _Spy(model)
    sug = QACSuggester(vec, spy, ds.labels, topk=200)
    assert sug.skip_unmatched_prefix is False
    assert sug.suggest("some query", unmatched) == []
    assert spy.calls == 1  # the whole request ran
    assert sug.suggest_ids_batch(["some query", "other"], [unmatched, unmatched]).max() == -1
    assert spy.rows == 2
    fast = QACSuggester(vec, spy, ds.labels, topk=200, skip_unmatched_prefix=True)
    assert fast.suggest("some query", unmatched) == []
    assert spy.calls == 1  # skipped before vectorising
    te = ds.splits["test"]
    prevs, prefixes = te.prev_queries[:30] + ["q"], te.prefixes[:30] + [unmatched]
    assert fast.suggest_batch(prevs, prefixes) == sug.suggest_batch(prevs, prefixes)
    with pytest.raises(TypeError, match="skip_unmatched_prefix"):
        QACSuggester(vec, model, ds.labels, skip_unmatched_prefix="yes")
