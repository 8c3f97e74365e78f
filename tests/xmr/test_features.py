"""TextFeaturizer: n-gram extraction against a pure-Python reference, PECOS's tf-idf by hand,
block concatenation, the single-query path, persistence and every error branch."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
from pathlib import Path

import numba as nb
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import normalize

import xmr.features as features
import xmr.features.text as text_module
import xmr.features.tokenize as tokenize
from xmr.features import (
    PerOrderFeaturizer,
    TextFeaturizer,
    char_ngrams,
    load_featurizer,
    word_ngrams,
)
from xmr.kernels import ngrams as K

# ---------------------------------------------------------------- pure-Python reference


def ref_tokens(text: str, lowercase: bool = True) -> list[str]:
    """Maximal runs of alphanumerics / underscore, one character at a time."""
    if lowercase:
        text = text.lower()
    tokens, cur = [], []
    for ch in text:
        if ch.isalnum() or ch == "_":
            cur.append(ch)
        elif cur:
            tokens.append("".join(cur))
            cur = []
    if cur:
        tokens.append("".join(cur))
    return tokens


def ref_word_ngrams(text: str, lo: int, hi: int) -> list[tuple[str, ...]]:
    toks = ref_tokens(text)
    out = []
    for n in range(lo, hi + 1):
        for i in range(len(toks) - n + 1):
            out.append(tuple(toks[i:i + n]))
    return out


def ref_char_ngrams(text: str, lo: int, hi: int) -> list[str]:
    out = []
    for tok in ref_tokens(text):
        marked = tok + "#"
        if len(marked) < lo:
            out.append(marked)
            continue
        for n in range(lo, hi + 1):
            for i in range(len(marked) - n + 1):
                out.append(marked[i:i + n])
    return out


def cps(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def char_hash(gram: str) -> int:
    return int(K.hash_char_gram(cps(gram)))


def word_hash(tokens: tuple[str, ...]) -> int:
    offsets = np.cumsum([0] + [len(t) for t in tokens]).astype(np.int64)
    return int(K.hash_word_ngram(cps("".join(tokens)), offsets))


def kernel_hashes(text: str, word=(0, 0), char=(0, 0)) -> list[int]:
    table = tokenize.word_table()
    return [int(h) for h in K.ngram_hashes(cps(text.lower()), table, *word, *char)]


TEXTS = [
    "Echo with screen",
    "Café crème brûlée",
    "naïve  façade",
    "emoji 😀 party🎉time 👍🏽",
    "hello,world!! foo-bar (baz)",
    "   multiple    spaces   ",
    "",
    "!!! ... ???",
    "a b c",
    "x",
    "under_score snake_case_42",
    "İstanbul ΣΊΣΥΦΟΣ",  # lower() changes the length / final sigma
    "日本語のテキスト 中文",
    "tab\tnew\nline",
    "lone \ud800 surrogate",
]


def word_col(f: TextFeaturizer, *tokens: str) -> int:
    h = np.uint64(word_hash(tokens))
    j = int(np.searchsorted(f.word_vocab_, h))
    assert j < f.word_vocab_.size and f.word_vocab_[j] == h, f"{tokens} not in vocabulary"
    return j


def char_col(f: TextFeaturizer, gram: str) -> int:
    h = np.uint64(char_hash(gram))
    j = int(np.searchsorted(f.char_vocab_, h))
    assert j < f.char_vocab_.size and f.char_vocab_[j] == h, f"{gram!r} not in vocabulary"
    return f.n_word_features_ + j


def corpus(n: int = 300, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = ["echo", "dot", "kindle", "fire", "tv", "stick", "paperwhite", "case", "charger",
             "usb", "c", "café", "noise", "cancelling", "headphones", "4k", "smart", "plug"]
    return [" ".join(rng.choice(vocab, size=rng.integers(1, 7))) for _ in range(n)]


# ---------------------------------------------------------------- n-gram extraction


def test_paper_example_trigrams():
    expected = ["ech", "cho", "ho#", "wit", "ith", "th#", "scr", "cre", "ree", "een", "en#"]
    assert char_ngrams("Echo with screen") == expected
    assert kernel_hashes("Echo with screen", char=(3, 3)) == [char_hash(g) for g in expected]


def test_short_tokens_yield_whole_marked_token_once():
    assert char_ngrams("a be", (3, 3)) == ["a#", "be#"]
    assert char_ngrams("a", (1, 3)) == ["a", "#", "a#"]
    assert char_ngrams("ab", (4, 5)) == ["ab#"]


def test_word_ngrams():
    assert word_ngrams("Echo, with  screen!", (1, 2)) == [
        "echo", "with", "screen", "echo with", "with screen"]
    assert word_ngrams("a b c", (2, 3)) == ["a b", "b c", "a b c"]
    assert word_ngrams("Echo", (1, 1), lowercase=False) == ["Echo"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("lo,hi", [(1, 1), (1, 3), (3, 3), (2, 5), (5, 5)])
def test_char_kernel_matches_reference(text, lo, hi):
    ref = ref_char_ngrams(text, lo, hi)
    assert char_ngrams(text, (lo, hi)) == ref
    assert kernel_hashes(text, char=(lo, hi)) == [char_hash(g) for g in ref]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("lo,hi", [(1, 1), (1, 3), (2, 3), (3, 3)])
def test_word_kernel_matches_reference(text, lo, hi):
    ref = ref_word_ngrams(text, lo, hi)
    assert word_ngrams(text, (lo, hi)) == [" ".join(t) for t in ref]
    assert kernel_hashes(text, word=(lo, hi)) == [word_hash(t) for t in ref]


def test_both_blocks_emit_word_then_char():
    text = "Café crème, s'il vous plaît"
    expected = ([word_hash(t) for t in ref_word_ngrams(text, 1, 2)]
                + [char_hash(g) for g in ref_char_ngrams(text, 2, 4)])
    assert kernel_hashes(text, word=(1, 2), char=(2, 4)) == expected


def test_word_char_table_is_python_word_class():
    table = tokenize.word_table()
    for c in [ord(ch) for ch in "aZ09_éßΣ日٣"]:
        assert table[c] == 1
    for c in [ord(ch) for ch in " -#!\t\n\u0301😀"] + [0xD800]:
        assert table[c] == 0


def test_hashes_separate_blocks_and_orders():
    assert char_hash("ab") != word_hash(("ab",))
    assert word_hash(("a", "b")) != word_hash(("ab",)) != word_hash(("a",))
    assert char_hash("ab") != char_hash("ab#")


# ---------------------------------------------------------------- tf-idf values


TOY = ["red red pink blue", "blue green", "green yellow"]


def test_tfidf_by_hand_on_toy_corpus():
    # N = 3. df: red 1, pink 1, blue 2, green 2, yellow 1.
    # idf = max(ln(N / (df + 1)), 0): ln(3/2) for df 1, ln(3/3) = 0 for df 2.
    f = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None).fit(TOY)
    assert f.n_docs_ == 3 and f.n_features_ == 5
    for token, df in {"red": 1, "pink": 1, "blue": 2, "green": 2, "yellow": 1}.items():
        j = word_col(f, token)
        assert f.word_df_[j] == df
        assert f.word_idf_[j] == np.float32(max(math.log(3 / (df + 1)), 0.0))
    X = f.transform(TOY).toarray()
    expected = np.zeros((3, 5))
    # doc 0: red tf 2, pink tf 1, blue idf 0 -> (2, 1) * ln(1.5), then l2-normalised
    expected[0, word_col(f, "red")] = 2 / math.sqrt(5)
    expected[0, word_col(f, "pink")] = 1 / math.sqrt(5)
    # doc 1: both terms have idf 0 -> all-zero row, no NaN
    expected[2, word_col(f, "yellow")] = 1.0
    np.testing.assert_allclose(X, expected, rtol=1e-6)
    X = f.transform(TOY)
    assert X.getrow(1).nnz == 0  # zero weights are not stored


def test_sublinear_tf_and_general_idf():
    docs = ["a a a b", "b c", "c d", "d e", "e a"]  # N = 5
    f = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None,
                       sublinear_tf=True).fit(docs)
    row = f.transform(["a a a b"]).toarray()[0]
    idf = {t: max(math.log(5 / (df + 1)), 0.0) for t, df in {"a": 2, "b": 2}.items()}
    wa, wb = (1 + math.log(3)) * idf["a"], 1.0 * idf["b"]
    norm = math.hypot(wa, wb)
    assert row[word_col(f, "a")] == pytest.approx(wa / norm, rel=1e-6)
    assert row[word_col(f, "b")] == pytest.approx(wb / norm, rel=1e-6)
    g = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None).fit(docs)
    row = g.transform(["a a a b"]).toarray()[0]
    norm = math.hypot(3 * idf["a"], idf["b"])
    assert row[word_col(g, "a")] == pytest.approx(3 * idf["a"] / norm, rel=1e-6)


def test_char_block_tfidf_by_hand():
    docs = ["abc", "abd", "xyz", "xyq"]  # N = 4
    f = TextFeaturizer(word_ngram_range=None, char_ngram_range=(3, 3)).fit(docs)
    # trigrams: abc bc# | abd bd# | xyz yz# | xyq yq#  -> abc: df 1, idf ln(4/2)
    assert f.n_features_ == 8
    row = f.transform(["abc abc bd"]).toarray()[0]
    # abc tf 2, bc# tf 2, bd# tf 1 (all idf ln 2); "bd" has no "bd" trigram but yields "bd#"
    w = np.array([2.0, 2.0, 1.0]) * math.log(2)
    w /= np.linalg.norm(w)
    assert row[char_col(f, "abc")] == pytest.approx(w[0], rel=1e-6)
    assert row[char_col(f, "bc#")] == pytest.approx(w[1], rel=1e-6)
    assert row[char_col(f, "bd#")] == pytest.approx(w[2], rel=1e-6)
    assert np.count_nonzero(row) == 3


def test_blocks_concatenate_and_renormalise():
    docs = corpus()
    both = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=(2, 4)).fit(docs)
    word = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=None).fit(docs)
    char = TextFeaturizer(word_ngram_range=None, char_ngram_range=(2, 4)).fit(docs)
    assert both.n_features_ == word.n_features_ + char.n_features_
    queries = docs[:50] + ["kindle zzz", "qqq", ""]
    X, W, C = both.transform(queries), word.transform(queries), char.transform(queries)
    wn = np.asarray(sp.linalg.norm(W, axis=1))
    cn = np.asarray(sp.linalg.norm(C, axis=1))
    expected = sp.hstack([W.multiply(1 / np.maximum(np.hypot(wn, cn), 1e-30)[:, None]),
                          C.multiply(1 / np.maximum(np.hypot(wn, cn), 1e-30)[:, None])])
    np.testing.assert_allclose(X.toarray(), expected.toarray(), atol=1e-6)
    # a row with both blocks present: each block carries weight 1/sqrt(2)
    i = next(i for i in range(50) if wn[i] > 0 and cn[i] > 0)
    block = X[i, :word.n_features_].toarray()
    assert np.linalg.norm(block) == pytest.approx(1 / math.sqrt(2), rel=1e-5)


def test_rows_unit_norm_sorted_float32():
    f = TextFeaturizer(word_ngram_range=(1, 3), char_ngram_range=(3, 3))
    X = f.fit_transform(corpus())
    assert isinstance(X, sp.csr_matrix) and X.dtype == np.float32
    assert X.shape == (300, f.n_features_)
    assert X.has_sorted_indices
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert np.isfinite(X.data).all() and (X.data > 0).all()


def test_float64_dtype():
    docs = corpus()
    X32 = TextFeaturizer().fit(docs).transform(docs)
    f64 = TextFeaturizer(dtype=np.float64).fit(docs)
    X64 = f64.transform(docs)
    assert X64.dtype == np.float64
    assert f64.transform_one(docs[0])[1].dtype == np.float64
    np.testing.assert_allclose(X64.toarray(), X32.toarray(), atol=1e-6)


def test_unseen_and_empty_rows_are_zero():
    f = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=(3, 3)).fit(corpus())
    X = f.transform(["zzzz qqqq", "", "!!!", "echo"])
    assert X.shape == (4, f.n_features_)
    assert [X.getrow(i).nnz for i in range(3)] == [0, 0, 0]
    assert X.getrow(3).nnz > 0
    assert np.isfinite(X.data).all()
    idx, val = f.transform_one("zzzz qqqq")
    assert idx.size == val.size == 0 and idx.dtype == np.int32


def test_lowercase_option():
    docs = ["Echo dot", "echo show", "Kindle"]
    lower = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None).fit(docs)
    assert lower.n_features_ == 4
    cased = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None,
                           lowercase=False).fit(docs)
    assert cased.n_features_ == 5
    # "echo" is in 2 of 3 texts, so its idf is ln(3 / 3) = 0; "kindle" has idf ln(3 / 2)
    assert lower.transform(["KINDLE"]).nnz == 1
    assert cased.transform(["KINDLE"]).nnz == 0 and cased.transform(["Kindle"]).nnz == 1


# ---------------------------------------------------------------- vocabulary selection


def test_min_df():
    docs = ["a b", "a c", "a b", "d"]
    f = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None, min_df=2).fit(docs)
    assert f.n_features_ == 2  # a (df 3), b (df 2); c and d have df 1
    assert sorted(f.word_df_.tolist()) == [2, 3]
    word_col(f, "a")
    word_col(f, "b")
    assert f.transform(["c d"]).nnz == 0


def test_max_features_keeps_most_frequent_per_block():
    docs = ["a b c", "a b", "a", "d e"]
    f = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=(1, 1),
                       max_features=2).fit(docs)
    assert f.n_word_features_ == 2 and f.n_char_features_ == 2
    assert sorted(f.word_df_.tolist()) == [2, 3]
    word_col(f, "a")
    word_col(f, "b")
    char_col(f, "#")  # every token ends with '#': df 4
    char_col(f, "a")  # df 3
    assert np.all(np.diff(f.word_vocab_.astype(np.float64)) > 0)


def test_min_df_removing_everything_raises():
    with pytest.raises(ValueError, match="no vocabulary"):
        TextFeaturizer(min_df=5).fit(["a", "b"])


# ---------------------------------------------------------------- paths agree


def test_transform_one_equals_transform():
    docs = corpus()
    f = TextFeaturizer(word_ngram_range=(1, 3), char_ngram_range=(2, 4)).fit(docs)
    queries = docs[:40] + TEXTS + ["ECHO Dot!!", "zzz"]
    X = f.transform(queries)
    for i, q in enumerate(queries):
        idx, val = f.transform_one(q)
        assert idx.dtype == np.int32 and val.dtype == np.float32
        assert np.array_equal(idx, X.indices[X.indptr[i]:X.indptr[i + 1]])
        assert np.array_equal(val, X.data[X.indptr[i]:X.indptr[i + 1]])
        assert np.all(np.diff(idx) > 0)


def test_fit_transform_equals_fit_then_transform():
    docs = corpus()
    a = TextFeaturizer(word_ngram_range=(1, 2)).fit_transform(docs)
    b = TextFeaturizer(word_ngram_range=(1, 2)).fit(docs).transform(docs)
    assert (a != b).nnz == 0 and np.array_equal(a.indices, b.indices)


@pytest.mark.parametrize("serial_below", [0, 1 << 30])  # always parallel / always serial
def test_batching_and_parallel_kernels_give_identical_results(monkeypatch, serial_below):
    docs = corpus(500) + ["", "!!"]
    f = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=(3, 3)).fit(docs)
    X = f.transform(docs)
    monkeypatch.setattr(text_module, "_BATCH_CODE_POINTS", 64)
    monkeypatch.setattr(text_module, "_SERIAL_CODE_POINTS", serial_below)
    g = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=(3, 3)).fit(docs)
    assert np.array_equal(f.word_vocab_, g.word_vocab_)
    assert np.array_equal(f.char_df_, g.char_df_)
    Y = g.transform(docs)
    assert np.array_equal(X.indptr, Y.indptr) and np.array_equal(X.indices, Y.indices)
    assert np.array_equal(X.data, Y.data)


def test_deterministic_across_fits_and_threads(monkeypatch):
    docs = corpus(400)
    X = TextFeaturizer(word_ngram_range=(1, 3)).fit_transform(docs)
    Y = TextFeaturizer(word_ngram_range=(1, 3)).fit_transform(list(docs))
    assert np.array_equal(X.indices, Y.indices) and np.array_equal(X.data, Y.data)
    monkeypatch.setattr(text_module, "_SERIAL_CODE_POINTS", 0)  # the parallel kernels
    P = TextFeaturizer(word_ngram_range=(1, 3)).fit_transform(docs)
    assert np.array_equal(X.indices, P.indices) and np.array_equal(X.data, P.data)
    before = nb.get_num_threads()
    nb.set_num_threads(1)
    try:
        Z = TextFeaturizer(word_ngram_range=(1, 3)).fit_transform(docs)
    finally:
        nb.set_num_threads(before)
    assert np.array_equal(X.indices, Z.indices) and np.array_equal(X.data, Z.data)


def test_accepts_tuple_and_numpy_arrays():
    docs = corpus(50)
    X = TextFeaturizer().fit_transform(docs)
    for variant in (tuple(docs), np.array(docs), np.array(docs, dtype=object)):
        Y = TextFeaturizer().fit(variant).transform(variant)
        assert np.array_equal(X.data, Y.data)


def test_transform_empty_list():
    f = TextFeaturizer().fit(corpus(20))
    X = f.transform([])
    assert X.shape == (0, f.n_features_) and X.nnz == 0


# ---------------------------------------------------------------- parity with PECOS itself

_PECOS_TFIDF = """
import json, sys
import numpy as np
from pecos.utils.featurization.text.vectorizers import Vectorizer
docs, config = json.loads(sys.stdin.read())
X = Vectorizer.train(docs, config={"type": "tfidf", "kwargs": config}).predict(docs)
X.sort_indices()
np.savez(sys.argv[1], indptr=X.indptr, data=X.data, shape=np.array(X.shape))
"""


def pecos_tfidf(peer_python, tmp_path, docs, config):
    out = tmp_path / "pecos.npz"
    subprocess.run([str(peer_python), "-c", _PECOS_TFIDF, str(out)], check=True,
                   input=json.dumps([docs, config]), text=True, timeout=300)
    with np.load(out) as z:
        return z["indptr"], z["data"], tuple(z["shape"])


def assert_same_rows(X, indptr, data):
    """Same values per row (columns are numbered differently: PECOS by df, here by hash);
    PECOS stores zero weights explicitly, this featurizer does not."""
    for i in range(X.shape[0]):
        ours = np.sort(X.data[X.indptr[i]:X.indptr[i + 1]])
        theirs = data[indptr[i]:indptr[i + 1]]
        np.testing.assert_allclose(ours, np.sort(theirs[theirs != 0]), rtol=1e-5, atol=1e-7)


@pytest.mark.peer
@pytest.mark.parametrize("sublinear", [False, True])
def test_word_tfidf_matches_pecos(peer_python, tmp_path, sublinear):
    # lowercase alphanumeric tokens and single spaces: PECOS's space tokenizer agrees
    docs = [d.replace("é", "e") for d in corpus(300, seed=1)]
    f = TextFeaturizer(word_ngram_range=(1, 3), char_ngram_range=None, sublinear_tf=sublinear)
    X = f.fit_transform(docs)
    indptr, data, shape = pecos_tfidf(peer_python, tmp_path, docs,
                                      {"ngram_range": [1, 3], "sublinear_tf": sublinear})
    assert shape == X.shape
    assert_same_rows(X, indptr, data)


@pytest.mark.peer
def test_two_blocks_match_pecos(peer_python, tmp_path):
    # One token per text: PECOS's "char" analyzer on "token#" gives exactly our end-marked
    # char trigrams, and its word block on "token#" has the same df as ours on "token".
    rng = np.random.default_rng(2)
    words = ["".join(rng.choice(list("abcdef"), size=rng.integers(2, 6))) for _ in range(60)]
    docs = [str(w) for w in rng.choice(words, size=400)]
    X = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=(3, 3)).fit_transform(docs)
    indptr, data, shape = pecos_tfidf(peer_python, tmp_path, [d + "#" for d in docs], {
        "base_vect_configs": [{"ngram_range": [1, 1]},
                              {"analyzer": "char", "ngram_range": [3, 3]}]})
    assert shape == X.shape
    assert_same_rows(X, indptr, data)


# ---------------------------------------------------------------- persistence


def test_save_load_round_trip(tmp_path):
    docs = corpus()
    f = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=(2, 3), min_df=2,
                       max_features=500, sublinear_tf=True).fit(docs)
    f.save(tmp_path / "feat")
    config = json.loads((tmp_path / "feat" / "featurizer.json").read_text())
    assert config["format_version"] == features.FORMAT_VERSION
    g = TextFeaturizer.load(tmp_path / "feat")
    assert g.get_params() == {**f.get_params(), "dtype": np.dtype(np.float32)}
    assert g.n_features_ == f.n_features_
    X, Y = f.transform(docs), g.transform(docs)
    assert np.array_equal(X.indptr, Y.indptr) and np.array_equal(X.indices, Y.indices)
    assert np.array_equal(X.data, Y.data)
    for a, b in zip(f.transform_one(docs[3]), g.transform_one(docs[3]), strict=True):
        assert np.array_equal(a, b)


def test_pickle_round_trip_and_fitted_params_are_frozen():
    docs = corpus()
    f = TextFeaturizer(word_ngram_range=(1, 2)).fit(docs)
    X = f.transform(docs)
    g = pickle.loads(pickle.dumps(f))
    assert np.array_equal(g.transform(docs).data, X.data)
    f.lowercase = False  # a parameter edited after fit does not change the fitted featurizer
    assert np.array_equal(f.transform(docs).data, X.data)
    assert np.array_equal(f.transform_one(docs[0].upper())[1], X[0].data)


@pytest.fixture()
def saved(tmp_path):
    folder = tmp_path / "feat"
    TextFeaturizer().fit(corpus(30)).save(folder)
    return folder


def test_load_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TextFeaturizer.load(tmp_path / "nope")


def test_load_folder_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="featurizer.json is missing"):
        TextFeaturizer.load(tmp_path)


def test_load_damaged_json(saved):
    (saved / "featurizer.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        TextFeaturizer.load(saved)


def test_load_wrong_kind(saved):
    (saved / "featurizer.json").write_text(json.dumps({"kind": "xmr.model.XRLinear"}))
    with pytest.raises(ValueError, match="XRLinear"):
        TextFeaturizer.load(saved)


def test_load_wrong_version(saved):
    config = json.loads((saved / "featurizer.json").read_text())
    config["format_version"] = 99
    (saved / "featurizer.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format_version 99"):
        TextFeaturizer.load(saved)


def test_load_damaged_params(saved):
    config = json.loads((saved / "featurizer.json").read_text())
    del config["params"]["min_df"]
    (saved / "featurizer.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="damaged"):
        TextFeaturizer.load(saved)
    config["params"]["min_df"] = 1
    config["params"]["word_ngram_range"] = [0, 9]
    (saved / "featurizer.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="word_ngram_range"):
        TextFeaturizer.load(saved)


def test_load_missing_arrays(saved):
    (saved / "vocab.npz").unlink()
    with pytest.raises(FileNotFoundError, match="vocab.npz is missing"):
        TextFeaturizer.load(saved)


def test_load_damaged_arrays(saved):
    (saved / "vocab.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="vocab.npz is damaged"):
        TextFeaturizer.load(saved)


def test_load_mismatched_arrays(saved):
    with np.load(saved / "vocab.npz") as z:
        arrays = dict(z)
    arrays["char_vocab"] = arrays["char_vocab"][:-1]
    np.savez(saved / "vocab.npz", **arrays)
    with pytest.raises(ValueError, match="char vocabulary does not match"):
        TextFeaturizer.load(saved)


# ---------------------------------------------------------------- bad input


def test_not_fitted(tmp_path):
    f = TextFeaturizer()
    with pytest.raises(NotFittedError):
        f.transform(["a"])
    with pytest.raises(NotFittedError):
        f.transform_one("a")
    with pytest.raises(NotFittedError):
        f.save(tmp_path)


@pytest.mark.parametrize("texts,match", [
    ("echo dot", r"texts must be a list.*got str \(wrap a single text"),
    (None, "texts must be a list.*got NoneType"),
    ({"a": 1}, "texts must be a list.*got dict"),
    (["a", 3, "b"], r"texts\[1\] must be a str, got int"),
    (["a", None], r"texts\[1\] must be a str, got NoneType"),
    (np.array([["a", "b"]]), r"1-D sequence of str.*\(1, 2\)"),
    (np.array([1, 2]), r"texts\[0\] must be a str, got int"),
])
def test_bad_texts(texts, match):
    with pytest.raises(TypeError, match=match):
        TextFeaturizer().fit(texts)
    f = TextFeaturizer().fit(["a b", "c", "d"])
    with pytest.raises(TypeError, match=match):
        f.transform(texts)


def test_bad_transform_one_input():
    f = TextFeaturizer().fit(["a b", "c", "d"])
    with pytest.raises(TypeError, match="text must be a str, got list"):
        f.transform_one(["a"])


def test_fit_empty_and_all_blank():
    with pytest.raises(ValueError, match="texts is empty"):
        TextFeaturizer().fit([])
    with pytest.raises(ValueError, match="no vocabulary"):
        TextFeaturizer().fit(["", "  ", "?!"])


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"word_ngram_range": (0, 2)}, ValueError,
     r"word_ngram_range must satisfy 1 <= lo <= hi <= 3, got \(0, 2\)"),
    ({"word_ngram_range": (2, 1)}, ValueError, r"word_ngram_range .* got \(2, 1\)"),
    ({"word_ngram_range": (1, 4)}, ValueError, r"<= 3, got \(1, 4\)"),
    ({"char_ngram_range": (1, 6)}, ValueError,
     r"char_ngram_range must satisfy 1 <= lo <= hi <= 5, got \(1, 6\)"),
    ({"char_ngram_range": (0, 3)}, ValueError, "char_ngram_range"),
    ({"word_ngram_range": 3}, TypeError, "word_ngram_range must be a \\(lo, hi\\) pair"),
    ({"char_ngram_range": (1, 2, 3)}, TypeError, "char_ngram_range must be a"),
    ({"char_ngram_range": (1.0, 2)}, TypeError, "char_ngram_range must be a"),
    ({"word_ngram_range": (True, 2)}, TypeError, "word_ngram_range must be a"),
    ({"word_ngram_range": None, "char_ngram_range": None}, ValueError, "cannot both be None"),
    ({"min_df": 0}, ValueError, "min_df must be >= 1, got 0"),
    ({"min_df": 1.5}, TypeError, "min_df must be an integer"),
    ({"max_features": 0}, ValueError, "max_features must be >= 1, got 0"),
    ({"max_features": "10"}, TypeError, "max_features must be an integer"),
    ({"sublinear_tf": "yes"}, TypeError, "sublinear_tf must be True or False"),
    ({"lowercase": 1}, TypeError, "lowercase must be True or False"),
    ({"dtype": np.int32}, ValueError, "dtype must be np.float32 or np.float64, got int32"),
    ({"dtype": "nonsense"}, TypeError, "dtype must be np.float32 or np.float64"),
])
def test_bad_params(kwargs, exc, match):
    f = TextFeaturizer(**kwargs)  # __init__ validates nothing
    with pytest.raises(exc, match=match):
        f.fit(["echo dot"])


def test_ranges_accept_lists_and_numpy_ints():
    f = TextFeaturizer(word_ngram_range=[1, np.int64(2)], char_ngram_range=None,
                       min_df=np.int32(1)).fit(["a b", "c", "d"])
    assert f.n_features_ == 5  # a, b, "a b", c, d


# ---------------------------------------------------------------- PECOS's per-order blocks


def test_per_order_blocks_by_construction():
    """One block per n-gram order, each l2-normalised, concatenated, renormalised."""
    docs = corpus(200, seed=5)
    f = PerOrderFeaturizer(word_ngram_range=(1, 3), char_ngram_range=(3, 3)).fit(docs)
    X = f.transform(docs)
    parts = [TextFeaturizer(word_ngram_range=(n, n), char_ngram_range=None).fit_transform(docs)
             for n in (1, 2, 3)]
    parts.append(TextFeaturizer(word_ngram_range=None, char_ngram_range=(3, 3))
                 .fit_transform(docs))
    ref = normalize(sp.hstack(parts, format="csr"))
    assert X.shape == ref.shape and X.dtype == np.float32
    np.testing.assert_allclose(X.toarray(), ref.toarray(), rtol=1e-5, atol=1e-7)
    # not the single word block: orders weigh the same here
    one = TextFeaturizer(word_ngram_range=(1, 3), char_ngram_range=(3, 3)).fit_transform(docs)
    assert X.shape == one.shape and abs(X - one).max() > 1e-3
    for text in docs[:20] + ["", "unseen words only zzz"]:
        idx, val = f.transform_one(text)
        row = f.transform([text])
        assert idx.tolist() == row.indices.tolist()
        np.testing.assert_allclose(val, row.data, rtol=1e-6)


def test_per_order_save_load(tmp_path):
    docs = corpus(80, seed=6)
    f = PerOrderFeaturizer(word_ngram_range=(1, 2), char_ngram_range=None).fit(docs)
    f.save(tmp_path / "f")
    g = load_featurizer(tmp_path / "f")
    assert isinstance(g, PerOrderFeaturizer) and g.n_features_ == f.n_features_
    assert abs(g.transform(docs) - f.transform(docs)).max() == 0
    t = TextFeaturizer().fit(docs)
    t.save(tmp_path / "t")
    assert isinstance(load_featurizer(tmp_path / "t"), TextFeaturizer)
    with pytest.raises(NotFittedError):
        PerOrderFeaturizer().transform(docs)
    with pytest.raises(ValueError, match="word_ngram_range"):
        PerOrderFeaturizer(word_ngram_range=(2, 1)).fit(docs)


@pytest.mark.peer
def test_per_order_blocks_match_pecos(peer_python, tmp_path):
    """PECOS's list of vectorizers (one per word order) gives the same rows."""
    docs = [d.replace("é", "e") for d in corpus(300, seed=1)]
    X = PerOrderFeaturizer(word_ngram_range=(1, 3), char_ngram_range=None).fit_transform(docs)
    indptr, data, shape = pecos_tfidf(peer_python, tmp_path, docs, {
        "base_vect_configs": [{"ngram_range": [n, n]} for n in (1, 2, 3)]})
    assert shape == X.shape
    assert_same_rows(X, indptr, data)


def test_sklearn_smoothed_idf_option():
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [d.replace("é", "e") for d in corpus(200, seed=3)]
    X = TextFeaturizer(word_ngram_range=(1, 1), char_ngram_range=None,
                       idf="sklearn").fit_transform(docs)
    ref = TfidfVectorizer(token_pattern=r"\w+").fit_transform(docs)  # smooth_idf=True
    for i in range(X.shape[0]):
        np.testing.assert_allclose(np.sort(X[i].data), np.sort(ref[i].data), rtol=1e-5)
    with pytest.raises(ValueError, match="idf must be one of"):
        TextFeaturizer(idf="bm25").fit(docs)


# ---------------------------------------------------------------- files of the one-module code

SAVED_V1 = Path(__file__).resolve().parents[1] / "data" / "featurizers_v1"
SAVED_V1_TEXTS = ["red running shoes", "blue suede shoes", "green garden hat", "red hat"]


def test_featurizers_saved_before_the_package_split_still_load():
    """``tests/data/featurizers_v1``: written by `xmr/features.py` before it became a package
    (folders record the kind ``xmr.features.TextFeaturizer``, the pickle the class path
    ``xmr.features.TextFeaturizer``); they load and transform as a fresh fit does."""
    queries = SAVED_V1_TEXTS + ["red suede hat", "unknown words"]
    for folder, cls in (("text", TextFeaturizer), ("per_order", PerOrderFeaturizer)):
        old = load_featurizer(SAVED_V1 / folder)
        assert type(old) is cls
        new = cls(word_ngram_range=(1, 2), char_ngram_range=(3, 3)).fit(SAVED_V1_TEXTS)
        a, b = old.transform(queries), new.transform(queries)
        assert a.shape == b.shape and (a != b).nnz == 0
    old = pickle.loads((SAVED_V1 / "text.pkl").read_bytes())
    new = TextFeaturizer(char_ngram_range=None).fit(SAVED_V1_TEXTS)
    assert (old.transform(queries) != new.transform(queries)).nnz == 0
