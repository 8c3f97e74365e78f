"""Most-popular completion: ranking, back-off, top-up, ties, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from baselines.mpc import MostPopularCompletion

TRAIN = (["abc"] * 5 + ["abd"] * 3 + ["ab"] * 4 + ["b"] * 9 + ["bcd"] * 2 + ["a"] * 1
         + ["x y"] * 6 + ["日本"] * 2)


@pytest.fixture(scope="module")
def mpc():
    return MostPopularCompletion().fit(TRAIN)


def test_ranks_completions_by_count(mpc):
    assert mpc.labels_ == sorted(set(TRAIN))
    assert mpc.suggest("ab", k=3) == ["abc", "ab", "abd"]  # 5, 4, 3
    assert mpc.suggest("b", k=2) == ["b", "bcd"]


def test_top_up_from_shorter_prefixes(mpc):
    # "abd" has 1 completion; then "ab" adds abc, ab; then "a" adds a; then "" adds the rest
    assert mpc.suggest("abd", k=5) == ["abd", "abc", "ab", "a", "b"]
    assert mpc.suggest("abd", k=10) == ["abd", "abc", "ab", "a", "b", "x y", "bcd", "日本"]


def test_back_off_unknown_prefix(mpc):
    # "abz" is unknown -> "ab" -> abc ab abd, topped up from "a" and ""
    assert mpc.suggest("abz", k=4) == ["abc", "ab", "abd", "a"]
    # a prefix longer than any label, and a wholly unknown one: the global top list
    assert mpc.suggest("abcdefghijklmnop", k=2) == ["abc", "ab"]
    assert mpc.suggest("zzz", k=3) == ["b", "x y", "abc"]
    assert mpc.suggest("", k=3) == ["b", "x y", "abc"]


def test_ties_non_ascii_and_batch(mpc):
    # bcd and 日本 both have count 2: the smaller string first
    assert mpc.suggest("", k=10)[-3:] == ["bcd", "日本", "a"]
    assert mpc.suggest("日", k=1) == ["日本"]
    assert mpc.suggest("x ", k=1) == ["x y"]
    assert mpc.suggest_batch(["ab", "zzz"], k=2) == [["abc", "ab"], ["b", "x y"]]


def test_no_duplicates_and_length_at_scale():
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcde"), rng.integers(1, 6))) for _ in range(3000)]
    m = MostPopularCompletion().fit(words)
    counts = dict(zip(m.labels_, m.counts_.tolist()))
    for p in ("a", "ab", "abcde", "e", "zz", "ddddd"):
        s = m.suggest(p, k=10)
        assert len(s) == len(set(s)) == 10
        completions = [q for q in m.labels_ if q.startswith(p)]
        best = sorted(completions, key=lambda q: (-counts[q], q))[:10]
        assert s[:len(best)] == best


def test_save_load(tmp_path, mpc):
    mpc.save(tmp_path / "m")
    back = MostPopularCompletion.load(tmp_path / "m")
    assert back.labels_ == mpc.labels_ and np.array_equal(back.counts_, mpc.counts_)
    assert back.suggest("ab") == mpc.suggest("ab")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "mpc.json").write_text("{}")
    with pytest.raises(ValueError, match="damaged"):
        MostPopularCompletion.load(tmp_path / "bad")
    with pytest.raises(FileNotFoundError):
        MostPopularCompletion.load(tmp_path / "none")


def test_bad_input(mpc):
    with pytest.raises(NotFittedError):
        MostPopularCompletion().suggest("a")
    with pytest.raises(ValueError, match="empty"):
        MostPopularCompletion().fit([])
    with pytest.raises(ValueError, match="k must be >= 1"):
        mpc.suggest("a", k=0)
    with pytest.raises(TypeError, match="prefix must be a str"):
        mpc.suggest(None)
