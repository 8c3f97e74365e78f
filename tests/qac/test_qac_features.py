"""QACVectorizer: previous-query word TF-IDF ⊕ (position-weighted) prefix char TF-IDF."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from xmr.kernels.ngrams import hash_char_gram
from xmr.kernels.prefix_ngrams import prefix_hashes
from xmr.qac import QACVectorizer, prefix_ngram_weights

PREVS = ["red shoes", "", "red", "blue hat"]
PREFIXES = ["ab", "b", "c", "cd"]  # N = 4 training examples
LN2, LN43 = math.log(4 / 2), math.log(4 / 3)  # idf = ln(N / (df + 1)): df 1 -> ln 2, df 2


def col(vec: QACVectorizer, gram: str) -> int:
    """Column of a prefix n-gram in the full input (query block first)."""
    h = hash_char_gram(np.frombuffer(gram.encode("utf-32-le"), np.uint32))
    j = int(np.searchsorted(vec.prefix_vocab_, h))
    assert vec.prefix_vocab_[j] == h, gram
    return vec.n_query_features_ + j


def dense(vec, prev, prefix) -> np.ndarray:
    return vec.transform([prev], [prefix]).toarray().ravel()


def unit(d: dict) -> dict:
    norm = math.sqrt(sum(v * v for v in d.values()))
    return {k: v / norm for k, v in d.items()}


@pytest.fixture(scope="module")
def fitted():
    return {w: QACVectorizer(prefix_weighting=w).fit(PREVS, PREFIXES)
            for w in ("position", "plain")}


def test_prefix_ngram_weights_reference():
    # "abab": 1-grams a(0) b(1) a(2) b(3); 2-grams ab(0) ba(1) ab(2); 3-grams aba(0) bab(1)
    assert prefix_ngram_weights("abab") == {"a": 1 + 1 / 3, "b": 1 / 2 + 1 / 4,
                                            "ab": 1 + 1 / 3, "ba": 1 / 2, "aba": 1, "bab": 1 / 2}
    assert prefix_ngram_weights("abab", position=False) == {
        "a": 2, "b": 2, "ab": 2, "ba": 1, "aba": 1, "bab": 1}
    assert prefix_ngram_weights("") == {}


def test_vocabulary_and_idf(fitted):
    vec = fitted["position"]
    # prefix n-grams: a ab b c cd d; df: a 1, ab 1, b 2 ("ab", "b"), c 2, cd 1, d 1
    assert vec.n_prefix_features_ == 6 and vec.n_query_features_ == 4  # red shoes blue hat
    assert vec.n_features_ == 10 and vec.n_docs_ == 4
    idf = dict(zip(vec.prefix_vocab_.tolist(), vec.prefix_idf_.tolist()))
    for gram, expected in (("a", LN2), ("b", LN43), ("ab", LN2), ("c", LN43), ("cd", LN2)):
        h = int(hash_char_gram(np.frombuffer(gram.encode("utf-32-le"), np.uint32)))
        assert idf[h] == pytest.approx(expected, rel=1e-6)


def test_position_weighted_vector_by_hand(fitted):
    vec = fitted["position"]
    # "abab", empty previous query: known n-grams a, b, ab (ba, aba, bab are not in the vocab)
    # a: (1 + 1/3) ln 2, b: (1/2 + 1/4) ln(4/3), ab: (1 + 1/3) ln 2; l2-normalised
    expected = unit({"a": 4 / 3 * LN2, "b": 3 / 4 * LN43, "ab": 4 / 3 * LN2})
    x = dense(vec, "", "abab")
    assert np.count_nonzero(x) == 3
    for gram, v in expected.items():
        assert x[col(vec, gram)] == pytest.approx(v, rel=1e-5)
    # (0.6977, 0.1629, 0.6977): the leading "a"/"ab" dominate
    assert expected["a"] == pytest.approx(0.697665, abs=1e-6)


def test_plain_vector_by_hand(fitted):
    vec = fitted["plain"]
    expected = unit({"a": 2 * LN2, "b": 2 * LN43, "ab": 2 * LN2})
    x = dense(vec, "", "abab")
    for gram, v in expected.items():
        assert x[col(vec, gram)] == pytest.approx(v, rel=1e-5)


def test_query_and_prefix_blocks_by_hand(fitted):
    vec = fitted["position"]
    q = vec.query_featurizer_
    x = dense(vec, "Red shoes", "ab")  # lowercased
    # query block: red ln(4/3), shoes ln 2 -> unit; prefix block: a ln2, b ln(4/3)/2, ab ln2
    # -> unit; both blocks have norm 1, so the whole row is divided by sqrt(2)
    qv = unit({"red": LN43, "shoes": LN2})
    pv = unit({"a": LN2, "b": LN43 / 2, "ab": LN2})
    qi, _ = q.transform_one("red")
    assert x[qi[0]] == pytest.approx(qv["red"] / math.sqrt(2), rel=1e-5)
    si, _ = q.transform_one("shoes")
    assert x[si[0]] == pytest.approx(qv["shoes"] / math.sqrt(2), rel=1e-5)
    for gram, v in pv.items():
        assert x[col(vec, gram)] == pytest.approx(v / math.sqrt(2), rel=1e-5)
    assert np.linalg.norm(x) == pytest.approx(1.0, rel=1e-6)


def test_empty_previous_query_is_the_prefix_block_renormalised(fitted):
    vec = fitted["position"]
    for prev in ("", "   ", "unknownword"):
        x = dense(vec, prev, "ab")
        assert not x[:vec.n_query_features_].any()
        assert np.linalg.norm(x) == pytest.approx(1.0, rel=1e-6)
        idx, val = vec.transform_one(prev, "ab")
        assert np.array_equal(idx, np.flatnonzero(x))
        assert np.allclose(val, x[idx], rtol=1e-6)
    # nothing known at all: an all-zero row, never NaN
    assert not dense(vec, "", "").any() and not dense(vec, "zzz", "zz").any()
    assert vec.transform_one("", "")[0].size == 0


def test_kernel_matches_reference_on_random_text():
    rng = np.random.default_rng(0)
    alphabet = list("ab cé日\U0001f600")
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 9))) for _ in range(200)]
    prevs = ["x"] * len(texts)
    for weighting in ("position", "plain"):
        vec = QACVectorizer(prefix_weighting=weighting, char_ngram_range=(1, 3)).fit(
            prevs, texts)
        idf = dict(zip(vec.prefix_vocab_.tolist(), vec.prefix_idf_.astype(float).tolist()))
        X = vec.label_embedding(texts[:50])
        for i, t in enumerate(texts[:50]):
            ref = {}
            for gram, tf in prefix_ngram_weights(t, position=weighting == "position").items():
                h = int(hash_char_gram(np.frombuffer(gram.encode("utf-32-le"), np.uint32)))
                if idf.get(h, 0.0) > 0:
                    ref[gram] = tf * idf[h]
            row = X[i].toarray().ravel()
            if not ref:
                assert not row.any()
                continue
            ref = unit(ref)
            assert np.count_nonzero(row) == len(ref)
            for gram, v in ref.items():
                assert row[col(vec, gram) - vec.n_query_features_] == pytest.approx(v, rel=1e-5)
        # hashes are emitted n ascending, then position
        cps = np.frombuffer("abé".encode("utf-32-le"), np.uint32)
        grams = ["a", "b", "é", "ab", "bé", "abé"]
        assert prefix_hashes(cps, 1, 3).tolist() == [
            int(hash_char_gram(np.frombuffer(g.encode("utf-32-le"), np.uint32))) for g in grams]


def test_transform_one_matches_transform_and_save_load(tmp_path, fitted):
    vec = fitted["position"]
    prevs = ["red shoes", "", "blue", "Blue Hat", "日本"]
    prefixes = ["abcd", "c", "", "b", "é"]
    X = vec.transform(prevs, prefixes)
    assert X.dtype == np.float32 and X.shape == (5, vec.n_features_) and X.has_sorted_indices
    for i, (p, q) in enumerate(zip(prevs, prefixes)):
        idx, val = vec.transform_one(p, q)
        assert idx.dtype == np.int32 and val.dtype == np.float32
        assert np.array_equal(idx, X[i].indices)
        assert np.allclose(val, X[i].data, rtol=1e-6)
    vec.save(tmp_path / "v")
    back = QACVectorizer.load(tmp_path / "v")
    assert back.get_params() == vec.get_params()
    assert (back.transform(prevs, prefixes) != X).nnz == 0
    assert np.array_equal(back.label_embedding(["abc"]).toarray(),
                          vec.label_embedding(["abc"]).toarray())


def test_label_embedding_shape(fitted):
    vec = fitted["position"]
    Z = vec.label_embedding(["ab", "cd", "zz"])
    assert Z.shape == (3, vec.n_prefix_features_) and Z.dtype == np.float32
    norms = np.sqrt(np.asarray(Z.multiply(Z).sum(axis=1)).ravel())
    assert np.allclose(norms, [1, 1, 0], atol=1e-6)


def test_no_query_block_when_all_previous_queries_are_empty():
    vec = QACVectorizer().fit(["", "", ""], ["ab", "b", "c"])
    assert vec.query_featurizer_ is None and vec.n_query_features_ == 0
    idx, val = vec.transform_one("anything", "ab")
    assert np.allclose(vec.transform(["anything"], ["ab"]).toarray().ravel()[idx], val)


def test_bad_input(tmp_path, fitted):
    with pytest.raises(ValueError, match="prefix_weighting must be one of"):
        QACVectorizer(prefix_weighting="trie").fit(PREVS, PREFIXES)
    with pytest.raises(ValueError, match="char_ngram_range"):
        QACVectorizer(char_ngram_range=(0, 3)).fit(PREVS, PREFIXES)
    with pytest.raises(TypeError, match="char_ngram_range"):
        QACVectorizer(char_ngram_range=3).fit(PREVS, PREFIXES)
    with pytest.raises(ValueError, match="min_df must be >= 1"):
        QACVectorizer(min_df=0).fit(PREVS, PREFIXES)
    with pytest.raises(ValueError, match="differ in length"):
        QACVectorizer().fit(PREVS, PREFIXES[:2])
    with pytest.raises(ValueError, match="empty"):
        QACVectorizer().fit([], [])
    with pytest.raises(ValueError, match="no vocabulary"):
        QACVectorizer().fit(["", ""], ["", ""])
    with pytest.raises(TypeError, match="prefixes"):
        QACVectorizer().fit(PREVS, "abcd")
    with pytest.raises(NotFittedError):
        QACVectorizer().transform_one("a", "b")
    with pytest.raises(NotFittedError):
        QACVectorizer().transform(["a"], ["b"])
    with pytest.raises(TypeError, match="must be str"):
        fitted["position"].transform_one(None, "b")
    with pytest.raises(FileNotFoundError):
        QACVectorizer.load(tmp_path)


def test_sklearn_smoothed_idf_option(tmp_path):
    """qp2q's sklearn TfidfVectorizers: idf = ln((1 + N) / (1 + df)) + 1 in both blocks."""
    prev = ["cheap flights", "", "news today", "cheap hotels"]
    prefixes = ["fl", "fl", "we", "ho"]
    v = QACVectorizer(idf="sklearn").fit(prev, prefixes)
    np.testing.assert_allclose(v.prefix_idf_, np.log(5 / (1 + v.prefix_df_)) + 1, rtol=1e-6)
    q = v.query_featurizer_
    np.testing.assert_allclose(q.word_idf_, np.log(5 / (1 + q.word_df_)) + 1, rtol=1e-6)
    assert (QACVectorizer().fit(prev, prefixes).prefix_idf_ != v.prefix_idf_).any()
    v.save(tmp_path / "v")
    w = QACVectorizer.load(tmp_path / "v")
    assert w.idf == "sklearn" and (w.prefix_idf_ == v.prefix_idf_).all()
    with pytest.raises(ValueError, match="idf must be one of"):
        QACVectorizer(idf="plain").fit(prev, prefixes)
