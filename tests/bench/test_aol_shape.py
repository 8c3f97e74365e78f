"""`benchmarks.aol_shape`: the statistics by hand on a tiny label list, the generator's trie
families, the JSON and its rendering."""

from __future__ import annotations

import json

import pytest

from benchmarks import aol_shape, report


def test_shape_stats_by_hand():
    queries = ["google", "google", "google maps", "abcdefghijklmnopq one", "abcdefghijklmnopq two",
               "abcdefghijklmnopq one", "ebay"]
    s = aol_shape.shape_stats(queries)
    assert s["pairs"] == 7 and s["labels"] == 5
    assert s["labels_per_pair"] == pytest.approx(5 / 7)
    assert s["top_label"] in ("google", "abcdefghijklmnopq one")
    assert s["top_label_share"] == pytest.approx(2 / 7)
    # the one 16-character family: 2 labels over 3 pairs; the others are families of one
    assert s["largest_family"] == "abcdefghijklmnop" and s["largest_family_labels"] == 2
    assert s["largest_family_share"] == pytest.approx(2 / 5)
    assert s["trie_leaf_pairs_per_pair"] == pytest.approx((2 * 3 + 2 + 1 + 1) / 7)
    assert s["largest_first_word_share"] == pytest.approx(2 / 5)  # google, google maps
    with pytest.raises(ValueError, match="no pairs"):
        aol_shape.shape_stats([])


def test_the_current_generator_has_no_giant_trie_family():
    # Version 1 put a popular long query's random refinements under one 16-character prefix:
    # its trie label level cost tens of problems x rows per training pair (the real subset:
    # about 1). Measured here on a small log of each version.
    old = aol_shape.synthetic(40_000, 100, generator=1)
    new = aol_shape.synthetic(40_000, 100, generator=2)
    assert old["trie_leaf_pairs_per_pair"] > 10 and old["largest_family_share"] > 0.01
    assert new["trie_leaf_pairs_per_pair"] < 3 and new["largest_family_share"] < 0.01
    assert new["top_label_share"] < old["top_label_share"]


def test_main_writes_a_json_the_report_renders(tmp_path, monkeypatch):
    monkeypatch.setattr(aol_shape, "SUBSET_ROWS", 20_000)
    monkeypatch.setattr(aol_shape, "SUBSET_USERS", 50)
    out = tmp_path / "shape.json"
    result = aol_shape.main(["--data-dir", str(tmp_path / "nowhere"), "--scales", "1", "2",
                             "--generators", "2", "--out", str(out)])
    assert [log["name"] for log in result["logs"]] == ["generator 2", "generator 2 ×2"]
    assert result["logs"][1]["rows"] == 40_000 and result["logs"][1]["users"] == 100
    assert result["notes"] and result["notes"][0].startswith("real subset left out")
    assert json.loads(out.read_text())["runs"][0]["finished_utc"]
    table = report.KINDS["aol_shape"].table(report.load_result("aol_shape", out))
    assert "| trie_leaf_pairs_per_pair |" in table and "real subset left out" in table
    for bad in (["--scales", "0"], ["--generators", "3"]):
        with pytest.raises(SystemExit):
            aol_shape.main([*bad, "--out", str(out)])
