"""XMR loaders: Home Depot, ESCI, XC-repository / PECOS npz, PECOS text2text.

Hand-made fixtures under tests/data/loaders/ hold one row of every malformed kind; the real
files under ../shared/data are checked against the counts data/README.md gives.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from xmr.datasets._build import label_matrix, split_queries
from xmr.datasets._io import DataFileError, DataNotFoundError
from xmr.datasets.esci import ESCIConfig, load_esci
from xmr.datasets.homedepot import HomeDepotConfig, load_homedepot
from xmr.datasets.text2text import Text2TextConfig, load_text2text
from xmr.datasets.xmc import XMCConfig, load_xmc, normalize_rows

LOADERS = Path(__file__).resolve().parent.parent / "data" / "loaders"


def queries(dataset, split: str) -> list[str]:
    return dataset.splits[split].texts


def positives_of(dataset, split: str) -> dict[str, set[str]]:
    """{query text: {label id, ...}} of one split."""
    s = dataset.splits[split]
    return {t: {dataset.label_ids[j] for j in s.Y[i].indices} for i, t in enumerate(s.texts)}


# ----------------------------------------------------------------------------- helpers


def test_split_queries_is_deterministic_and_order_free():
    qs = [f"q{i}" for i in range(100)]
    a = split_queries(qs, 0.2, seed=0)
    assert a == split_queries(reversed(qs), 0.2, seed=0)  # not the row order
    assert sum(v == "test" for v in a.values()) == 20
    assert a != split_queries(qs, 0.2, seed=1)
    assert set(split_queries(qs, 0.0, seed=0).values()) == {"train"}


def test_label_matrix_is_binary_float32():
    Y = label_matrix([[2, 0, 2], [], [1]], 3)
    assert Y.dtype == np.float32 and Y.shape == (3, 3)
    assert Y.toarray().tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]


# ----------------------------------------------------------------------------- homedepot


def test_homedepot_fixture_counts_and_skips():
    d = load_homedepot(LOADERS)
    assert d.skipped.counts == {
        "wrong column count": 2, "empty query": 1, "empty product id": 1,
        "non-numeric relevance": 1, "relevance out of range": 1,
        "duplicate (query, product) pair": 1, "blank line": 1,
        "query with no positive pair (query dropped)": 1}
    assert d.skipped.examples["query with no positive pair (query dropped)"] == [
        "rain shower head"]
    assert d.info["n_valid_rows"] == 13 and d.info["n_positive_pairs"] == 11
    assert d.info["n_queries"] == 10 and d.info["title_conflicts"] == 1
    assert [s.n for s in d.splits.values()] == [8, 2]
    assert d.label_ids == ["100001", "100002", "100004", "100005", "100006", "100008",
                           "100009", "100010", "100011"]
    assert d.label_texts[0] == "Simpson 12-Gauge Angle"  # the first title seen
    assert d.label_texts[2] == "Caf\u00e9 Table Lamp"  # latin-1 decoded
    assert d.label_texts[3] == "Wood Screws, 1 in."  # quoted comma
    pos = positives_of(d, "train") | positives_of(d, "test")
    assert pos["angle bracket"] == {"100001", "100002"}  # 2.67 is a positive
    assert "garden hose" in pos and pos["garden hose"] == {"100006"}
    assert d.info["protocol"].startswith("queries only")


def test_homedepot_split_is_by_query_and_seeded():
    a, b = load_homedepot(LOADERS), load_homedepot(LOADERS)
    assert queries(a, "train") == queries(b, "train")
    assert queries(a, "test") == queries(b, "test")
    assert not set(queries(a, "train")) & set(queries(a, "test"))
    others = [load_homedepot(LOADERS, HomeDepotConfig(seed=s)) for s in range(1, 6)]
    assert any(queries(o, "test") != queries(a, "test") for o in others)
    for o in others:
        assert sorted(queries(o, "train") + queries(o, "test")) == sorted(
            queries(a, "train") + queries(a, "test"))


def test_homedepot_title_as_input_adds_one_training_row_per_label():
    d = load_homedepot(LOADERS, HomeDepotConfig(title_as_input=True))
    start, end = d.info["title_rows"]
    train = d.splits["train"]
    assert (start, end) == (8, 8 + d.n_labels) and train.n == end
    assert train.texts[start:] == d.label_texts
    assert (train.Y[start:] != sp.eye(d.n_labels, dtype=np.float32, format="csr")).nnz == 0
    assert d.splits["test"].n == 2  # test is untouched
    assert d.info["protocol"].startswith("title")


def test_homedepot_judged_label_set_and_threshold():
    d = load_homedepot(LOADERS, HomeDepotConfig(label_set="judged"))
    assert d.n_labels == 11 and "100003" in d.label_ids  # never-positive products included
    strict = load_homedepot(LOADERS, HomeDepotConfig(relevance_threshold=3.0))
    assert strict.info["n_positive_pairs"] == 8  # the 2.67 and 2.75 pairs drop out


def test_homedepot_undecodable_bytes_are_skipped(tmp_path):
    folder = tmp_path / "homedepot"
    folder.mkdir()
    (folder / "train.csv").write_bytes(
        b'"id","product_uid","product_title","search_term","relevance"\n'
        b'1,1,"Lamp","lamp",3\n2,2,"Bad \xff","lamp shade",3\n')
    d = load_homedepot(tmp_path, HomeDepotConfig(encoding="utf-8", test_fraction=0.0))
    assert d.skipped.counts == {"invalid utf-8": 1}
    assert d.splits["train"].texts == ["lamp"]


def test_homedepot_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_homedepot(tmp_path)
    assert "'homedepot'" in str(err.value) and str(tmp_path.resolve()) in str(err.value)
    assert "train.csv" in str(err.value) and "kaggle" in str(err.value).lower()
    (tmp_path / "train.csv").write_text(
        "id,product_uid,product_title,search_term,relevance\n1,2,t,,3\n1,2,t,q,x\n")
    with pytest.raises(ValueError, match=r"train\.csv: no valid row"):
        load_homedepot(tmp_path)
    (tmp_path / "train.csv").write_text(
        "id,product_uid,product_title,search_term,relevance\n1,2,t,q,1.5\n")
    with pytest.raises(ValueError, match="no pair has relevance >= 2.67"):
        load_homedepot(tmp_path)
    (tmp_path / "train.csv").write_text("id,uid,title,query,relevance\n1,2,t,q,3\n")
    with pytest.raises(ValueError, match="missing"):
        load_homedepot(tmp_path)
    with pytest.raises(ValueError, match="test_fraction must be < 1, got 1.0"):
        load_homedepot(tmp_path, HomeDepotConfig(test_fraction=1.0))
    with pytest.raises(ValueError, match="label_set must be one of"):
        load_homedepot(tmp_path, HomeDepotConfig(label_set="all"))


@pytest.fixture(scope="module")
def homedepot_real(shared_data):
    if not (shared_data / "homedepot").is_dir():
        pytest.skip("homedepot/ not in the shared data")
    return load_homedepot(shared_data)


@pytest.mark.realdata
def test_homedepot_real_counts(homedepot_real):
    d = homedepot_real
    print("homedepot:", d.info["n_positive_pairs"], "positive pairs,", d.info["n_queries"],
          "queries,", d.n_labels, "labels, splits", d.info["splits"])
    assert d.info["n_valid_rows"] == 74_067 and d.info["n_judged_queries"] == 11_795
    assert d.info["n_judged_products"] == 54_667
    assert d.info["n_positive_pairs"] == 34_338 and d.info["n_queries"] == 9_716
    assert d.splits["train"].n + d.splits["test"].n == 9_716
    assert d.splits["train"].Y.nnz + d.splits["test"].Y.nnz == 34_338
    assert d.splits["test"].n == round(0.2 * 9_716)
    assert d.skipped.counts == {"query with no positive pair (query dropped)": 11_795 - 9_716}
    assert len(d.label_texts) == d.n_labels and all(d.label_texts)


# ----------------------------------------------------------------------------- esci


@pytest.fixture
def esci_root(tmp_path):
    """A data folder laid out like the real one (esci-mini/esci_us_judgments.tsv) holding the
    hand-made fixture (kept under another name in the repo, so nothing tracked here carries a
    real dataset's file name)."""
    folder = tmp_path / "esci-mini"
    folder.mkdir()
    shutil.copy(LOADERS / "esci_judgments_fixture.tsv", folder / "esci_us_judgments.tsv")
    return tmp_path


def test_esci_tsv_fixture_counts_and_skips(esci_root):
    d = load_esci(esci_root)
    assert d.info["format"] == "tsv" and d.label_texts is None
    assert d.skipped.counts == {
        "invalid UTF-8": 1, "wrong column count": 1, "empty query": 1,
        "empty product id": 1, "non-numeric rating": 1,
        "bad relevance (rating not 100/10/1/0)": 1, "bad esci label": 1,
        "rating disagrees with esci label": 1, "duplicate (query, product) pair": 1,
        "blank line": 1, "query with no positive pair (query dropped)": 1}
    assert d.info["n_valid_rows"] == 10 and d.info["n_judged_products"] == 9
    assert d.label_ids == ["B1", "B2", "B6", "B9"]
    pos = positives_of(d, "train") | positives_of(d, "test")
    assert pos == {"usb cable": {"B1", "B2"}, "usb-c charger": {"B2"}, "phone case": {"B6"},
                   "caf\u00e9 mug": {"B9"}}
    e = load_esci(esci_root, ESCIConfig(positives="E"))
    assert e.info["n_positive_pairs"] == 3 and e.info["n_queries"] == 3
    judged = load_esci(esci_root, ESCIConfig(label_set="judged"))
    assert judged.n_labels == 9


def test_esci_tsv_split_is_seeded(esci_root):
    a, b = load_esci(esci_root), load_esci(esci_root)
    assert queries(a, "test") == queries(b, "test") and len(queries(a, "test")) == 1
    tests = {tuple(queries(load_esci(esci_root, ESCIConfig(seed=s)), "test"))
             for s in range(6)}
    assert len(tests) > 1


def test_esci_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_esci(tmp_path)
    msg = str(err.value)
    assert "'esci'" in msg and str(tmp_path.resolve()) in msg
    assert "shopping_queries_dataset_examples.parquet" in msg and "esci_us_judgments" in msg
    (tmp_path / "esci_us_judgments.tsv").write_text(
        "query\tproduct_id\trating\tesci_label_inferred\nq\tB1\t7\tE\n\tB2\t100\tE\n")
    with pytest.raises(ValueError, match=r"esci_us_judgments\.tsv: no valid row"):
        load_esci(tmp_path)
    (tmp_path / "esci_us_judgments.tsv").write_text(
        "query\tproduct_id\trating\tesci_label_inferred\nq\tB1\t0\tI\n")
    with pytest.raises(ValueError, match="no positive pair"):
        load_esci(tmp_path)
    with pytest.raises(ValueError, match="title_as_input=True needs product titles"):
        load_esci(tmp_path, ESCIConfig(title_as_input=True))
    with pytest.raises(ValueError, match="positives must be one of"):
        load_esci(tmp_path, ESCIConfig(positives="ESC"))
    with pytest.raises(DataNotFoundError, match="parquet"):
        load_esci(tmp_path, ESCIConfig(source="parquet"))


def _write_parquet(folder: Path) -> None:
    import pandas as pd

    cols = ["example_id", "query", "query_id", "product_id", "product_locale", "esci_label",
            "small_version", "large_version", "split"]
    rows = [
        (0, "usb cable", 1, "B1", "us", "E", 1, 1, "train"),
        (1, "usb cable", 1, "B2", "us", "S", 1, 1, "train"),
        (2, "usb cable", 1, "B3", "us", "I", 1, 1, "train"),
        (3, "usb cable", 1, "B4", "us", "E", 0, 1, "train"),  # large version only
        (4, "phone case", 2, "B5", "us", "E", 1, 1, "test"),
        (5, "phone case", 2, "B6", "us", "C", 1, 1, "test"),
        (6, "funda movil", 3, "B7", "es", "E", 1, 1, "train"),  # other locale
        (7, "red shoes", 4, "B8", "us", "I", 1, 1, "test"),  # no positive
        (8, "  ", 5, "B9", "us", "E", 1, 1, "train"),  # empty query
        (9, "mug", 6, None, "us", "E", 1, 1, "train"),  # empty product id
        (10, "mug", 6, "B10", "us", "X", 1, 1, "train"),  # bad esci label
        (11, "mug", 6, "B11", "us", "E", 1, 1, "valid"),  # bad split value
        (12, "mug", 6, "B12", "us", "E", 2, 1, "train"),  # bad small_version flag
        (13, "mug", 6, "B13", None, "E", 1, 1, "train"),  # bad locale
        (14, "usb cable", 1, "B1", "us", "E", 1, 1, "train"),  # duplicate pair
        (15, "phone case", 2, "B14", "us", "E", 1, 1, "train"),  # split disagrees
    ]
    examples = pd.DataFrame(rows, columns=cols)
    examples.to_parquet(folder / "shopping_queries_dataset_examples.parquet")
    products = pd.DataFrame(
        [("B1", "USB-C cable 1 m", "us"), ("B1", "Cable USB-C", "es"), ("B2", "USB cable", "us"),
         ("B5", None, "us"), ("B7", "Funda", "es")],
        columns=["product_id", "product_title", "product_locale"])
    products.to_parquet(folder / "shopping_queries_dataset_products.parquet")


def test_esci_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    _write_parquet(tmp_path)
    (tmp_path / "esci_us_judgments.tsv").write_text("not used: parquet wins\n")
    d = load_esci(tmp_path, ESCIConfig(batch_size=4))  # several batches
    assert d.info["format"] == "parquet" and d.info["split"] == "official split column"
    assert d.skipped.counts == {
        "empty query": 1, "empty product id": 1, "bad esci label": 1, "bad split value": 1,
        "bad small_version flag": 1, "bad locale": 1, "duplicate (query, product) pair": 1,
        "split disagrees with the query's earlier rows": 1,
        "query with no positive pair (query dropped)": 1}
    assert d.info["rows_of_other_locales"] == 1 and d.info["rows_with_small_version_0"] == 1
    assert positives_of(d, "train") == {"usb cable": {"B1", "B2"}}
    assert positives_of(d, "test") == {"phone case": {"B5"}}
    assert d.label_ids == ["B1", "B2", "B5"]
    assert d.label_texts == ["USB-C cable 1 m", "USB cable", ""]  # us titles only
    assert d.info["labels_without_title"] == 1

    large = load_esci(tmp_path, ESCIConfig(version="large", positives="E"))
    assert positives_of(large, "train") == {"usb cable": {"B1", "B4"}, "mug": {"B12"}}
    titled = load_esci(tmp_path, ESCIConfig(title_as_input=True))
    assert titled.splits["train"].texts == ["usb cable", "USB-C cable 1 m", "USB cable"]
    assert titled.info["labels_without_title_row"] == 1


def test_esci_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "shopping_queries_dataset_examples.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match="pip install 'pyarrow=="):
        load_esci(tmp_path)


@pytest.mark.realdata
def test_esci_mini_real_counts(shared_data):
    if not (shared_data / "esci-mini").is_dir():
        pytest.skip("esci-mini/ not in the shared data")
    d = load_esci(shared_data)
    print("esci-mini:", d.info["n_queries"], "queries,", d.info["n_positive_pairs"],
          "E+S pairs,", d.n_labels, "labels, splits", d.info["splits"])
    assert d.info["format"] == "tsv" and d.skipped.total == 0
    assert d.info["n_judged_queries"] == 150 and d.info["n_judged_products"] == 6_597
    assert d.info["n_queries"] == 150 and d.info["n_positive_pairs"] == 5_287
    assert d.splits["train"].n + d.splits["test"].n == 150 and d.splits["test"].n == 30
    exact = load_esci(shared_data, ESCIConfig(positives="E"))
    assert exact.info["n_positive_pairs"] == 3_389


# ----------------------------------------------------------------------------- xmc

XMC_FIXTURE = XMCConfig(name="toy", train_file="xmc/train.txt", test_file="xmc/test.txt")


def test_xmc_text_fixture_counts_and_skips():
    d = load_xmc(LOADERS, XMCConfig(**{**XMC_FIXTURE.__dict__, "normalize_rows": False}))
    assert d.skipped.counts == {
        "label id out of range": 1, "non-numeric label id": 1, "feature id out of range": 1,
        "malformed feature token": 4, "non-finite feature value": 1, "invalid UTF-8": 1,
        "blank line": 1}
    train, test = d.splits["train"], d.splits["test"]
    assert train.texts is None and train.X.shape == (6, 5) and d.label_ids == list("0123")
    assert train.X.dtype == np.float32 and train.Y.dtype == np.float32
    assert train.X.toarray().tolist() == [
        [1, 0, 1, 0, 0], [0, 1, 0, 2, 0], [1, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 1, 1, 0, 0],
        [1, 0, 0, 0, 0.5]]
    assert train.Y.toarray().tolist() == [
        [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [1, 0, 0, 1]]
    assert test.X.toarray()[2].tolist() == [3, 0, 0, 0, 0]  # duplicate entries summed
    assert d.info["duplicate_feature_entries_summed"] == 1
    assert d.info["header_mismatch"] == ["test.txt: header says N=4 rows, file has 3"]


def test_xmc_rows_are_l2_normalised_by_default():
    d = load_xmc(LOADERS, XMC_FIXTURE)
    X = d.splits["train"].X
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [1, 1, 1, 0, 1, 1], rtol=1e-6)
    np.testing.assert_allclose(normalize_rows(sp.csr_matrix([[3.0, 4.0]])).toarray(),
                               [[0.6, 0.8]])


def test_xmc_npz_matches_text(tmp_path):
    raw = load_xmc(LOADERS, XMCConfig(**{**XMC_FIXTURE.__dict__, "normalize_rows": False}))
    (tmp_path / "npz").mkdir()
    for short, split in (("trn", "train"), ("tst", "test")):
        sp.save_npz(tmp_path / "npz" / f"X.{short}.npz", raw.splits[split].X)
        sp.save_npz(tmp_path / "npz" / f"Y.{short}.npz", 2 * raw.splits[split].Y)  # binarised
    text = load_xmc(LOADERS, XMC_FIXTURE)
    npz = load_xmc(tmp_path, XMCConfig(name="toy", format="npz", npz_dir="npz"))
    assert npz.info["Y_binarised"]
    for split in ("train", "test"):
        assert (text.splits[split].X != npz.splits[split].X).nnz == 0
        assert (text.splits[split].Y != npz.splits[split].Y).nnz == 0


def test_xmc_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_xmc(tmp_path)
    assert "'bibtex'" in str(err.value) and str(tmp_path.resolve()) in str(err.value)
    assert "bibtex/bibtex_train.txt.gz" in str(err.value)
    with pytest.raises(DataNotFoundError, match="X.trn.npz"):
        load_xmc(tmp_path, XMCConfig(format="npz"))
    (tmp_path / "tr.txt").write_text("2 3 2\n-5 0:1\n0 -9:1\n")
    (tmp_path / "te.txt").write_text("1 3 2\n0 0:1\n")
    with pytest.raises(ValueError, match=r"tr\.txt: no valid row"):
        load_xmc(tmp_path, XMCConfig(train_file="tr.txt", test_file="te.txt"))
    # a header whose D or L is smaller than the ids used: the file is refused, not trimmed
    (tmp_path / "tr.txt").write_text("2 3 2\n1 0:1\n0 2:1\n")
    (tmp_path / "te.txt").write_text("1 3 2\n2 0:1\n")
    with pytest.raises(DataFileError, match=r"te\.txt:2: label id 2 >= L=2 \(the train file "
                                            r"header says 2 labels\); fix the header"):
        load_xmc(tmp_path, XMCConfig(train_file="tr.txt", test_file="te.txt"))
    (tmp_path / "tr.txt").write_text("2 2 2\n1 0:1\n0 2:1\n")
    with pytest.raises(DataFileError, match=r"tr\.txt:3: feature id 2 >= D=2 \(the header"):
        load_xmc(tmp_path, XMCConfig(train_file="tr.txt", test_file="te.txt"))
    (tmp_path / "tr.txt").write_text("0 1:1\n")
    with pytest.raises(ValueError, match=r"tr\.txt: the first line must be the header"):
        load_xmc(tmp_path, XMCConfig(train_file="tr.txt", test_file="te.txt"))
    (tmp_path / "npz").mkdir()
    for name in ("X.trn", "Y.trn", "X.tst", "Y.tst"):
        sp.save_npz(tmp_path / "npz" / f"{name}.npz", sp.csr_matrix(np.ones((2, 3))))
    sp.save_npz(tmp_path / "npz" / "Y.tst.npz", sp.csr_matrix(np.ones((3, 3))))
    with pytest.raises(ValueError, match=r"X\.tst\.npz has 2 rows but .*Y\.tst\.npz has 3"):
        load_xmc(tmp_path, XMCConfig(format="npz", npz_dir="npz"))
    with pytest.raises(ValueError, match="format must be one of"):
        load_xmc(tmp_path, XMCConfig(format="svm"))


@pytest.mark.realdata
def test_bibtex_real_text_and_npz_agree(shared_data):
    if not (shared_data / "bibtex").is_dir():
        pytest.skip("bibtex/ not in the shared data")
    text = load_xmc(shared_data)
    npz = load_xmc(shared_data, XMCConfig(format="npz"))
    print("bibtex:", text.info["n_rows"], text.info["n_features"], "features,",
          text.info["n_labels"], "labels")
    for d in (text, npz):
        assert d.skipped.total == 0 and "header_mismatch" not in d.info
        assert (d.splits["train"].n, d.splits["test"].n) == (4_880, 2_515)
        assert d.splits["train"].X.shape[1] == 1_836 and d.n_labels == 159
    for split in ("train", "test"):
        assert (text.splits[split].X != npz.splits[split].X).nnz == 0
        assert (text.splits[split].Y != npz.splits[split].Y).nnz == 0


# ----------------------------------------------------------------------------- text2text

T2T = LOADERS / "text2text"


def test_text2text_fixture_counts_and_skips():
    d = load_text2text(T2T)
    assert d.skipped.counts == {
        "wrong column count (no tab)": 1, "no label ids": 1, "empty text": 1,
        "non-numeric label id": 1, "label id out of range": 2, "bad relevance": 2,
        "invalid UTF-8": 1, "blank line": 1}
    assert d.label_ids == [str(i) for i in range(6)]
    assert d.label_texts[2] == "caf\u00e9 mug" and d.label_texts[4] == ""
    assert d.info["label_file"]["empty_label_texts"] == 1
    train, test = d.splits["train"], d.splits["test"]
    assert train.texts[1] == "Anker USB cable with case"
    assert [sorted(train.Y[i].indices.tolist()) for i in range(train.n)] == [
        [0], [1, 3], [2], [5], [0, 1]]
    assert d.info["relevances"].startswith("given")
    assert test.texts == ["usb-c cable", "phone case\twith a tab"]  # text after the 1st tab
    assert test.Y.toarray().tolist() == [[0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]]


def test_text2text_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_text2text(tmp_path)
    assert "'text2text'" in str(err.value) and str(tmp_path.resolve()) in str(err.value)
    assert "output_items.txt" in str(err.value)
    (tmp_path / "output_items.txt").write_text("a\nb\n")
    (tmp_path / "train.txt").write_text("7\tout of range\nno tab\n")
    (tmp_path / "test.txt").write_text("0\tfine\n")
    with pytest.raises(ValueError, match=r"train\.txt: no valid row"):
        load_text2text(tmp_path)
    (tmp_path / "output_items.txt").write_text("\n\n")
    with pytest.raises(ValueError, match=r"output_items\.txt: no label text"):
        load_text2text(tmp_path)


@pytest.mark.realdata
def test_text2text_pecos_example(shared_data):
    folder = shared_data / "pecos-tst" / "apps" / "text2text"
    if not folder.is_dir():
        pytest.skip("pecos-tst/apps/text2text/ not in the shared data")
    d = load_text2text(folder, Text2TextConfig(label_file="query_text.txt"))
    assert d.skipped.total == 0 and d.n_labels == 20
    assert (d.splits["train"].n, d.splits["test"].n) == (8, 2)
    truth = (folder / "truth_items.txt").read_text().splitlines()
    test_Y = d.splits["test"].Y
    assert [d.label_texts[test_Y[i].indices[0]] for i in range(test_Y.shape[0])] == truth
