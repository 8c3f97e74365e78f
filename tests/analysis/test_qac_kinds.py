"""Which QAC run is which: the runs' model_kind tag (names only for runs older than it), and
Table 2's row labels and the claims' defaults read from where they are defined (issue 22)."""

from __future__ import annotations

import pandas as pd

from analysis import claims, common, qac
from xmr.params import PREDICT, XRLinearParams


def test_model_kind_tag_decides_names_only_for_old_runs():
    runs = pd.DataFrame({
        "model": ["mpc", "most_popular_xmr", "xrlinear", "mpc", "popular", "seq2seq"],
        "model_kind": [None, "xmr", None, "baseline", None, "neural"]})
    assert list(qac.mpc_mask(runs)) == [True, False, False, True, False, False]
    kinds = qac.model_kind(runs)
    assert list(kinds.fillna("?")) == ["baseline", "xmr", "xmr", "baseline", "?", "neural"]
    no_tag = runs.drop(columns="model_kind")  # a store written before the tag
    assert list(qac.mpc_mask(no_tag)) == [True, False, False, True, False, False]


def test_table2_labels_are_read_from_the_row_files(tmp_path):
    (tmp_path / "qac").mkdir()
    (tmp_path / "indexer").mkdir()
    (tmp_path / "indexer" / "hybrid.yaml").write_text("name: hybrid\nlabel_embedding: pifa\n")
    (tmp_path / "qac" / "row7.yaml").write_text(
        "defaults:\n  - override /features: qac_new\n  - override /indexer: hybrid\n"
        'qac_row: "7"\nindexer:\n  trie_depth: 3\n')
    (tmp_path / "qac" / "row9.yaml").write_text(
        "defaults:\n  - override /features: qac_pos\n  - override /indexer: trie\n"
        'qac_row: "9"\n')
    assert qac.table2_rows(tmp_path) == {"7": "qac_new | pifa | hybrid d=3",
                                         "9": "qac_pos | – | trie d=16"}
    # the repository's rows: one label per row file
    real = qac.table2_rows()
    assert len(real) == len(list((common.CONF_DIR / "qac").glob("row*.yaml")))
    assert real["7"].endswith("hybrid d=2")


def test_claims_defaults_come_from_the_library_and_the_config(tmp_path):
    assert claims.DEFAULT_BEAM == PREDICT.beam_size
    assert claims.DEFAULT_THRESHOLD == XRLinearParams().threshold
    assert claims.DEFAULT_FEATURES == common.default_choice("features")
    (tmp_path / "config.yaml").write_text("defaults:\n  - _self_\n  - features: word1\n")
    assert common.default_choice("features", tmp_path) == "word1"
