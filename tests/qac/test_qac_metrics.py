"""QAC metrics on hand-computed toys: MRR@k, sentence BLEU (NLTK method 1), rank-weighted
BLEU, sacrebleu top-1, slices."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from xmr.qac.metrics import (
    mean_rank_weighted_bleu,
    mrr_at_k,
    qac_metrics,
    qac_slices,
    rank_weighted_bleu,
    sacrebleu_top1,
    sentence_bleu,
)


def test_mrr_at_k():
    sugg = [["a", "b", "c"], ["x", "y"], [], ["q"] * 10 + ["z"]]
    truths = ["c", "x", "a", "z"]
    # 1/3, 1/1, 0 (no suggestion), 0 (z is 11th: beyond k = 10)
    assert mrr_at_k(sugg, truths) == pytest.approx((1 / 3 + 1) / 4)
    assert mrr_at_k(sugg, truths, k=2) == pytest.approx(1 / 4)
    assert mrr_at_k(sugg, truths, k=11) == pytest.approx((1 / 3 + 1 + 1 / 11) / 4)
    assert mrr_at_k([["A"]], ["a"]) == 0.0  # exact string match
    assert mrr_at_k([], []) == 0.0


def test_sentence_bleu_by_hand():
    # hyp "the cat sat on mat" (c = 5), ref "the cat sat on the mat" (r = 6)
    # p1 = 5/5; p2: the-cat, cat-sat, sat-on match, on-mat not: 3/4;
    # p3: the-cat-sat, cat-sat-on match, sat-on-mat not: 2/3; p4: the-cat-sat-on: 1/2
    # BP = exp(1 - 6/5); BLEU = BP * (1 * 3/4 * 2/3 * 1/2) ** (1/4)
    expected = math.exp(1 - 6 / 5) * (1 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert sentence_bleu("the cat sat on mat", "the cat sat on the mat") == pytest.approx(
        expected, rel=1e-12)
    assert expected == pytest.approx(0.578930, abs=1e-6)


def test_sentence_bleu_smoothing_method1_by_hand():
    # hyp "cheap shoes" (c = 2), ref "cheap running shoes" (r = 3)
    # p1 = 2/2; p2: "cheap shoes" does not match: 0 -> (0 + 0.1) / 1;
    # p3, p4: no hypothesis n-grams: denominator max(1, 0) = 1 -> 0.1 / 1
    # BP = exp(1 - 3/2); BLEU = BP * (1 * 0.1 * 0.1 * 0.1) ** (1/4)
    expected = math.exp(1 - 3 / 2) * (1 * 0.1 * 0.1 * 0.1) ** 0.25
    assert sentence_bleu("cheap shoes", "cheap running shoes") == pytest.approx(expected,
                                                                                 rel=1e-12)
    assert expected == pytest.approx(0.107858, abs=1e-6)
    # a one-word exact match: p1 = 1, p2..p4 smoothed to 0.1, BP = 1 -> 0.1 ** 0.75
    assert sentence_bleu("shoes", "shoes") == pytest.approx(0.1 ** 0.75, rel=1e-12)
    # a longer exact match scores 1; no unigram match scores 0 (before smoothing, as NLTK)
    assert sentence_bleu("a b c d e", "a b c d e") == pytest.approx(1.0)
    assert sentence_bleu("x y", "a b") == 0.0
    assert sentence_bleu("", "a b") == 0.0 and sentence_bleu("a", "") == 0.0
    # hypothesis longer than the reference: BP = 1; p1 = 2/3 (clipped: "a" once in ref),
    # p2 = 1/2 ("a b" matches, "b a" does not), p3 = 0.1/1, p4 = 0.1/max(1, 0)
    assert sentence_bleu("a b a", "a b") == pytest.approx((2 / 3 * 1 / 2 * 0.1 * 0.1) ** 0.25)


def test_rank_weighted_bleu():
    truth = "the cat sat on the mat"
    b0 = sentence_bleu("the cat sat on mat", truth)
    # suggestions: [near match, miss, exact]: (b0/1 + 0/2 + 1/3) / (1 + 1/2 + 1/3)
    got = rank_weighted_bleu(["the cat sat on mat", "dog", truth], truth)
    assert got == pytest.approx((b0 + 0 + 1 / 3) / (1 + 1 / 2 + 1 / 3))
    assert rank_weighted_bleu([], truth) == 0.0
    assert mean_rank_weighted_bleu([[truth], []], [truth, truth]) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="wrap it in a list"):
        rank_weighted_bleu("dog", truth)


def test_sacrebleu_top1():
    import sacrebleu

    sugg = [["the cat sat on the mat", "x"], [], ["a b c d"]]
    truths = ["the cat sat on the mat", "hello world", "a b c d"]
    expected = sacrebleu.corpus_bleu(["the cat sat on the mat", "", "a b c d"],
                                     [truths]).score
    assert sacrebleu_top1(sugg, truths) == pytest.approx(expected)
    assert sacrebleu_top1([["a b c d e"]], ["a b c d e"]) == pytest.approx(100.0)


def test_qac_metrics_and_slices():
    sugg = [["ab", "abc"], ["abc"], [], ["zz", "z"]]
    truths = ["abc", "abc", "q", "z"]
    prefixes = ["a", "abcdefghijk", "q", "z"]
    m = qac_metrics(sugg, truths)
    assert set(m) == {"mrr_at_10", "bleu", "sacrebleu_top1", "n_rows", "coverage"}
    assert m["mrr_at_10"] == pytest.approx((1 / 2 + 1 + 0 + 1 / 2) / 4)
    assert m["coverage"] == 0.75 and m["n_rows"] == 4
    counts = Counter({"abc": 3, "z": 150})
    s = qac_slices(sugg, truths, prefixes, counts)
    json.dumps(s)  # the slices.json artifact
    # BLEU by hand: one-token sentences score 0.1 ** 0.75 when equal (smoothing method 1,
    # see test_sentence_bleu_smoothing_method1_by_hand) and 0 otherwise; a truth at rank 2
    # weighs 1/2 of Σ 1/(i+1) = 1.5. Prefix length 1: rows "a" ([ab, abc] → abc), "q" (none),
    # "z" ([zz, z] → z)
    exact = 0.1 ** 0.75
    assert s["prefix_length"]["1"] == {"n": 3, "mrr_at_10": pytest.approx(1 / 3),
                                       "bleu": pytest.approx((exact / 2 / 1.5) * 2 / 3)}
    assert s["prefix_length"]["10+"] == {"n": 1, "mrr_at_10": 1.0,
                                         "bleu": pytest.approx(exact)}
    assert set(s["train_frequency"]) == {"0", "2-4", "100+"}
    assert s["train_frequency"]["2-4"]["n"] == 2
    assert s["train_frequency"]["2-4"]["mrr_at_10"] == pytest.approx(0.75)
    assert s["seen"]["unseen"] == {"n": 1, "mrr_at_10": 0.0, "bleu": 0.0}
    assert s["seen"]["seen"]["n"] == 3


def test_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        mrr_at_k([["a"]], ["a", "b"])
    with pytest.raises(TypeError, match="wrap it in a list"):
        mrr_at_k(["a"], ["a"])
    with pytest.raises(TypeError, match="must be str"):
        sentence_bleu(["a"], "a")
    with pytest.raises(ValueError, match="k must be >= 1"):
        mrr_at_k([["a"]], ["a"], k=0)


def test_qac_per_query_averages_to_the_metrics():
    from xmr.qac.metrics import qac_per_query

    sugg = [["ab", "abc"], [], ["xyz", "x y"], ["hello world"]]
    truth = ["abc", "q", "x y", "hello there world"]
    rows = qac_per_query(sugg, truth, ["a", "q", "x", "he"], k=10)
    assert rows["reciprocal_rank"].tolist() == [0.5, 0.0, 0.5, 0.0]
    assert rows["prefix_length"].tolist() == [1, 1, 1, 2]
    assert rows["reciprocal_rank"].mean() == pytest.approx(mrr_at_k(sugg, truth, k=10))
    assert rows["bleu"].mean() == pytest.approx(mean_rank_weighted_bleu(sugg, truth))
    with pytest.raises(ValueError, match="prefixes and truths"):
        qac_per_query(sugg, truth, ["a"])
