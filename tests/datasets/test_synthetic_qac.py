"""The synthetic QAC session generator: determinism, shapes, the story's signals, validation."""

from __future__ import annotations

import re

import numpy as np
import pytest

from xmr.datasets.synthetic_qac import (
    SIZES,
    fake_words,
    make_qac_preset,
    make_qac_sessions,
)
from xmr.datasets.tasks import QACDataset

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def tiny() -> QACDataset:
    return make_qac_preset("tiny", seed=0)


@pytest.fixture(scope="module")
def small() -> QACDataset:
    """Big enough for distribution checks, still well under 1 s."""
    return make_qac_sessions(n_users=400, sessions_per_user=20, n_topics=30, seed=5)


def _pairs(ds):
    for name in SPLITS:
        s = ds.splits[name]
        yield from zip(s.prev_queries, s.prefixes, s.next_queries)


def test_tiny_is_well_shaped():
    ds = make_qac_preset("tiny")
    assert isinstance(ds, QACDataset) and ds.name == "synthetic_qac"
    assert set(ds.splits) == set(SPLITS)
    n = SIZES["tiny"]["n_users"] * SIZES["tiny"]["sessions_per_user"]
    assert ds.info["n_sessions"] == n
    assert sum(ds.info["sessions_per_split"].values()) == n
    assert ds.info["pairs_total"] == sum(s.n for s in ds.splits.values()) >= n  # >= 1 / session
    for s in ds.splits.values():
        assert s.n > 0
        assert len(s.prev_queries) == len(s.prefixes) == len(s.next_queries) == s.n
    assert ds.info["pairs"] == {name: ds.splits[name].n for name in SPLITS}


def test_every_pair_keeps_its_user_and_session(small):
    n_users = small.info["params"]["n_users"]
    owner: dict[int, int] = {}  # session -> user
    for name in SPLITS:
        s = small.splits[name]
        assert s.user_ids.dtype == s.session_ids.dtype == np.int64
        assert len(s.user_ids) == len(s.session_ids) == s.n
        assert s.user_ids.min() >= 0 and s.user_ids.max() < n_users
        # pairs come by user, then session, then position
        assert np.all(np.diff(s.user_ids) >= 0) and np.all(np.diff(s.session_ids) >= 0)
        assert len(np.unique(s.session_ids)) == small.info["sessions_per_split"][name]
        for session, user in zip(s.session_ids.tolist(), s.user_ids.tolist()):
            assert owner.setdefault(session, user) == user  # one user per session, any split
    assert len(owner) == small.info["n_sessions"]  # every session has >= 1 pair
    assert sorted(set(owner.values())) == list(range(n_users))


def test_splits_follow_session_time_80_10_10(small):
    share = {k: v / small.info["n_sessions"] for k, v in small.info["sessions_per_split"].items()}
    assert share["train"] == pytest.approx(0.8, abs=0.03)
    assert share["valid"] == pytest.approx(0.1, abs=0.02)
    assert share["test"] == pytest.approx(0.1, abs=0.02)


def test_same_seed_same_data_other_seed_other_data(tiny):
    again = make_qac_preset("tiny", seed=0)
    other = make_qac_preset("tiny", seed=1)
    for name in SPLITS:
        assert again.splits[name] == tiny.splits[name]
    assert other.splits["train"] != tiny.splits["train"]


def test_texts_are_lowercase_ascii_words(tiny):
    pattern = re.compile(r"[a-z0-9]+( [a-z0-9]+)*")
    for prev, prefix, nxt in _pairs(tiny):
        assert pattern.fullmatch(prev) and pattern.fullmatch(nxt), (prev, nxt)
    words = fake_words(np.random.default_rng(0), 500)
    assert len(set(words)) == 500
    assert all(re.fullmatch(r"[a-z]{3,9}", w) for w in words)


def test_prefixes_are_nonempty_prefixes_with_uniform_length(small):
    rel = []
    for prev, prefix, nxt in _pairs(small):
        assert 1 <= len(prefix) <= len(nxt) and nxt.startswith(prefix)
        rel.append(len(prefix) / len(nxt))
    rel = np.array(rel)
    assert rel.mean() == pytest.approx(0.55, abs=0.05)  # uniform on {1..n}/n: (n+1)/(2n)
    assert np.mean(rel == 1.0) < 0.2


def test_no_query_repeats_back_to_back(small):
    assert all(prev != nxt for prev, _, nxt in _pairs(small))


def test_session_context_carries_signal(small):
    """Reformulations share words with the previous query, so most pairs overlap; without
    reformulations far fewer do (only topic drift links them)."""
    overlap = np.mean([bool(set(p.split()) & set(n.split())) for p, _, n in _pairs(small)])
    assert overlap > 0.5
    assert small.info["reformulation_share"] == pytest.approx(0.5, abs=0.05)
    assert small.info["word_overlap_share"] == pytest.approx(overlap, abs=0.05)
    fresh = make_qac_sessions(n_users=400, sessions_per_user=20, n_topics=30,
                              reformulation_prob=0.0, seed=5)
    fresh_overlap = np.mean([bool(set(p.split()) & set(n.split()))
                             for p, _, n in _pairs(fresh)])
    assert fresh_overlap < overlap - 0.2
    assert fresh.info["reformulation_share"] < 0.05  # spelling fixes only


def test_reformulations_include_specialisation_and_generalisation(small):
    longer = shorter = 0
    for prev, _, nxt in _pairs(small):
        if nxt.startswith(prev + " "):
            longer += 1
        elif prev.startswith(nxt + " "):
            shorter += 1
    n = small.info["pairs_total"]
    assert longer / n > 0.05 and shorter / n > 0.02


def test_label_frequencies_are_zipfian(small):
    freq = np.sort(small.label_freq)[::-1]
    assert freq.sum() == small.splits["train"].n
    assert len(small.labels) == len(freq) and small.labels == sorted(small.labels)
    # heavy head, long tail of singletons
    assert freq[0] > 20 * np.median(freq)
    assert np.mean(freq == 1) > 0.5
    # log-log slope of frequency vs rank over the head is clearly negative
    ranks = np.arange(1, 101)
    slope = np.polyfit(np.log(ranks), np.log(freq[:100]), 1)[0]
    assert -2.0 < slope < -0.3


def test_unseen_test_labels_exist(small):
    labels = set(small.labels)
    unseen = np.mean([q not in labels for q in small.splits["test"].next_queries])
    assert 0.05 < unseen < 0.9


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_users=0), ValueError, "n_users must be >= 1, got 0"),
    (dict(sessions_per_user=0), ValueError, "sessions_per_user must be >= 1, got 0"),
    (dict(n_topics=0), ValueError, "n_topics must be >= 1, got 0"),
    (dict(n_topics=50_001), ValueError, "n_topics must be <= 50000, got 50001"),
    (dict(n_topics=10, n_queries_vocab=5), ValueError, "n_queries_vocab must be >= 10, got 5"),
    (dict(zipf_exponent=0.0), ValueError, "zipf_exponent must be in (0, 10], got 0.0"),
    (dict(zipf_exponent=11), ValueError, "zipf_exponent must be in (0, 10], got 11"),
    (dict(reformulation_prob=1.5), ValueError, "reformulation_prob must be in [0, 1], got 1.5"),
    (dict(reformulation_prob=-0.1), ValueError, "reformulation_prob must be in [0, 1]"),
    (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
    (dict(n_users=2.5), TypeError, "n_users must be an integer"),
    (dict(zipf_exponent="1.1"), TypeError, "zipf_exponent must be a number"),
    (dict(reformulation_prob=True), TypeError, "reformulation_prob must be a number"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        make_qac_sessions(**kwargs)


def test_bad_preset_name():
    with pytest.raises(ValueError, match=re.escape("name must be one of ['bench', 'demo'")):
        make_qac_preset("huge")


def test_edge_sizes_work():
    one = make_qac_sessions(n_users=1, sessions_per_user=1, n_topics=1, seed=0)
    assert one.info["pairs_total"] >= 1
    no_reform = make_qac_sessions(n_users=5, sessions_per_user=3, n_topics=2,
                                  reformulation_prob=1.0, seed=2)
    assert no_reform.info["reformulation_share"] == 1.0
