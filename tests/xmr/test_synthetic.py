"""The synthetic product-search generator: shapes, determinism, realism, validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from xmr.datasets.synthetic import (
    SIZES,
    ProductSearchData,
    make_product_search,
    make_product_search_preset,
)


@pytest.fixture(scope="module")
def tiny() -> ProductSearchData:
    return make_product_search_preset("tiny", seed=0)


@pytest.fixture(scope="module")
def small() -> ProductSearchData:
    """Big enough for distribution checks (Zipf, mean positives), still well under 1 s."""
    return make_product_search(n_products=2000, n_train=10_000, n_test=1000, seed=3)


def _words(text: str) -> set[str]:
    return set(text.split())


def test_shapes_dtypes_and_binary_values(tiny):
    n_products, n_train, n_test = (SIZES["tiny"][k] for k in ("n_products", "n_train", "n_test"))
    assert len(tiny.train_texts) == n_train and len(tiny.test_texts) == n_test
    assert len(tiny.label_texts) == tiny.n_products == n_products
    for Y, n in ((tiny.Y_train, n_train), (tiny.Y_test, n_test)):
        assert isinstance(Y, sp.csr_matrix)
        assert Y.shape == (n, n_products)
        assert Y.dtype == np.float32
        assert Y.has_sorted_indices
        np.testing.assert_array_equal(Y.data, 1.0)
        assert Y.max() == 1.0  # no duplicate entries summed into a 2
    assert tiny.label_topics.shape == (n_products,) and tiny.label_topics.dtype == np.int32
    assert tiny.label_popularity.shape == (n_products,)
    assert tiny.label_popularity.sum() == pytest.approx(1.0)
    assert tiny.train_sources.shape == (n_train,) and tiny.test_sources.shape == (n_test,)
    assert tiny.seed == 0 and tiny.params["n_products"] == n_products


def test_every_query_has_a_positive_and_its_source_is_one(tiny):
    for Y, sources in ((tiny.Y_train, tiny.train_sources), (tiny.Y_test, tiny.test_sources)):
        assert (np.diff(Y.indptr) >= 1).all()
        assert (Y[np.arange(Y.shape[0]), sources] == 1.0).all()


def test_positives_stay_in_the_source_topic(tiny):
    Y = tiny.Y_train.tocoo()
    np.testing.assert_array_equal(
        tiny.label_topics[Y.col], tiny.label_topics[tiny.train_sources[Y.row]]
    )


def test_texts_are_non_empty_lowercase_words(tiny):
    lengths = np.array([len(t.split()) for t in tiny.label_texts])
    assert lengths.min() >= 4 and lengths.max() <= 12
    assert len(set(tiny.label_texts)) == len(tiny.label_texts)  # products are distinguishable
    for texts in (tiny.train_texts, tiny.test_texts):
        q_lengths = np.array([len(t.split()) for t in texts])
        assert q_lengths.min() >= 1 and q_lengths.max() <= 6
        assert all(t == t.strip().lower() and "  " not in t for t in texts)


def test_same_seed_same_data_and_other_seed_differs(tiny):
    again = make_product_search_preset("tiny", seed=0)
    assert again.train_texts == tiny.train_texts
    assert again.test_texts == tiny.test_texts
    assert again.label_texts == tiny.label_texts
    for a, b in ((again.Y_train, tiny.Y_train), (again.Y_test, tiny.Y_test)):
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(again.label_popularity, tiny.label_popularity)

    other = make_product_search_preset("tiny", seed=1)
    assert other.seed == 1
    assert other.train_texts != tiny.train_texts
    assert other.label_texts != tiny.label_texts
    assert (other.Y_train != tiny.Y_train).nnz > 0


def test_queries_share_words_with_their_positives_titles(small):
    Y = small.Y_train.tocoo()
    titles = [_words(t) for t in small.label_texts]
    queries = [_words(t) for t in small.train_texts]
    share_pair = np.mean([bool(queries[q] & titles[p]) for q, p in zip(Y.row, Y.col)])
    share_source = np.mean(
        [bool(queries[q] & titles[p]) for q, p in enumerate(small.train_sources)]
    )
    assert share_pair > 0.85
    assert share_source > 0.9


def test_popularity_is_zipfian():
    data = make_product_search_preset("demo", seed=0)
    # Products ranked by their generating popularity; positives counted on the train queries.
    counts = np.asarray(data.Y_train.sum(axis=0)).ravel()[np.argsort(-data.label_popularity)]
    n = len(counts)
    top, bottom = counts[: n // 100], counts[n // 2:]
    assert top.sum() > 2 * bottom.sum()  # 1 % of the products, twice the positives of half
    assert top.mean() > 50 * bottom.mean()
    sources = np.bincount(data.train_sources, minlength=n)[np.argsort(-data.label_popularity)]
    assert sources[: n // 100].sum() > 5 * sources[n // 2:].sum()
    assert data.n_labels_without_train_positives > 0  # a realistic long tail


def test_labels_without_train_positives_are_counted(small):
    n_with = np.count_nonzero(np.asarray(small.Y_train.sum(axis=0)).ravel())
    assert small.n_labels_without_train_positives == small.n_products - n_with


def test_mean_positives_follows_positives_per_query():
    means = []
    for target in (1.0, 2.0, 3.0, 6.0):
        data = make_product_search(n_products=3000, n_train=5000, n_test=500,
                                   positives_per_query=target, seed=5)
        means.append(np.diff(data.Y_train.indptr).mean())
        assert data.params["mean_positives"] == pytest.approx(
            data.Y_train.nnz / 5000, rel=0.1
        )
        if target <= 3.0:  # reached; larger targets are capped by the topics' sizes
            assert means[-1] == pytest.approx(target, rel=0.05)
    assert means[0] == 1.0
    assert np.all(np.diff(means) > 0.5)


def test_typo_rate_controls_unseen_query_words():
    def unseen_fraction(typo_rate: float) -> float:
        data = make_product_search(n_products=500, n_train=3000, n_test=100,
                                   typo_rate=typo_rate, seed=7)
        known = set().union(*(_words(t) for t in data.label_texts))
        tokens = [w for t in data.train_texts for w in t.split()]
        return np.mean([w not in known for w in tokens])

    clean, noisy = unseen_fraction(0.0), unseen_fraction(0.5)
    assert clean < 0.05
    assert noisy > clean + 0.2


def test_presets_have_the_documented_sizes():
    assert set(SIZES) == {"tiny", "demo", "bench", "xl"}
    assert SIZES["bench"] == dict(n_products=20_000, n_train=50_000, n_test=5_000)
    assert SIZES["xl"] == dict(n_products=1_000_000, n_train=2_000_000, n_test=20_000)


def test_bench_preset_has_exact_counts():
    data = make_product_search_preset("bench")
    assert data.Y_train.shape == (50_000, 20_000)
    assert data.Y_test.shape == (5_000, 20_000)
    assert len(data.train_texts) == 50_000 and len(data.test_texts) == 5_000
    assert len(data.label_texts) == 20_000
    assert 0.9 * 3.0 < data.params["mean_positives"] < 1.1 * 3.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n_products=1), r"n_products must be >= 2, got 1"),
        (dict(n_train=0), r"n_train must be >= 1, got 0"),
        (dict(n_test=0), r"n_test must be >= 1, got 0"),
        (dict(n_topics=0), r"n_topics must be >= 1, got 0"),
        (dict(n_products=10, n_topics=11), r"n_topics must be in \[1, n_products=10\], got 11"),
        (dict(vocab_size=199), r"vocab_size must be >= 200, got 199"),
        (dict(positives_per_query=0.5), r"positives_per_query must be in \[1, 50\], got 0.5"),
        (dict(positives_per_query=51), r"positives_per_query must be in \[1, 50\], got 51"),
        (dict(typo_rate=-0.1), r"typo_rate must be in \[0, 1\), got -0.1"),
        (dict(typo_rate=1.0), r"typo_rate must be in \[0, 1\), got 1.0"),
        (dict(typo_rate=float("nan")), r"typo_rate must be in \[0, 1\), got nan"),
        (dict(zipf_exponent=0.0), r"zipf_exponent must be finite and > 0, got 0.0"),
        (dict(zipf_exponent=-1.0), r"zipf_exponent must be finite and > 0, got -1.0"),
        (dict(zipf_exponent=float("inf")), r"zipf_exponent must be finite and > 0, got inf"),
        (dict(seed=-1), r"seed must be >= 0, got -1"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_product_search(**{**SIZES["tiny"], **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n_products=2.5), r"n_products must be an integer, got float 2.5"),
        (dict(n_train=True), r"n_train must be an integer, got bool True"),
        (dict(typo_rate="0.1"), r"typo_rate must be a number, got str '0.1'"),
    ],
)
def test_bad_argument_types_raise_type_error(kwargs, message):
    with pytest.raises(TypeError, match=message):
        make_product_search(**{**SIZES["tiny"], **kwargs})


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"name must be one of \['bench', 'demo', 'tiny', "
                                         r"'xl'\], got 'huge'"):
        make_product_search_preset("huge")


def test_edge_sizes_still_work():
    data = make_product_search(n_products=2, n_train=1, n_test=1, n_topics=2,
                               vocab_size=200, positives_per_query=50, seed=0)
    assert data.Y_train.shape == (1, 2) and data.Y_train.nnz >= 1
    assert all(data.label_texts)
