"""`python -m experiments.prepare data=NAME`: load once, cache keyed by the data config, a
dataset card; a missing real-data file says what is missing and where it was looked for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

QUANTILES = {"min", "p25", "p50", "p75", "p90", "p99", "max"}


def cache_folder(stdout: str, state: str) -> Path:
    found = re.findall(rf"^{state}: (.+)$", stdout, flags=re.MULTILINE)
    assert len(found) == 1, f"no '{state}: <folder>' line in:\n{stdout}"
    return Path(found[0])


def prepare(run_app, tmp_paths, root: Path, *overrides: str):
    proc = run_app("experiments.prepare", *overrides, *tmp_paths(root), cwd=root)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-5000:]}"
    return proc


def test_prepare_caches_and_writes_the_card(run_app, tmp_paths, tmp_path):
    args = ("data=synthetic_products", "data.options.size=tiny")
    first = prepare(run_app, tmp_paths, tmp_path, *args)
    assert "cache hit" not in first.stdout
    folder = cache_folder(first.stdout, "prepared and cached")
    assert folder.parent == tmp_path / "cache" / "datasets"
    assert folder.name.startswith("synthetic_products-")
    assert (folder / "dataset.pkl").is_file()
    # the card summary is printed
    assert re.search(r"train\s+1,000 rows", first.stdout)
    assert re.search(r"test\s+200 rows", first.stdout)

    second = prepare(run_app, tmp_paths, tmp_path, *args)
    assert "prepared and cached" not in second.stdout
    assert cache_folder(second.stdout, "cache hit") == folder

    card = json.loads((folder / "dataset_card.json").read_text())
    assert card["name"] == "synthetic_products" and card["task"] == "xmr"
    assert card["n_labels"] == 200
    assert set(card["splits"]) == {"train", "test"}
    assert card["splits"]["train"]["rows"] == 1000 and card["splits"]["test"]["rows"] == 200
    assert card["rows_total"] == 1200
    for name, split in card["splits"].items():
        per_row = split["labels_per_instance"]
        assert QUANTILES <= set(per_row), name
        assert per_row["min"] <= per_row["p50"] <= per_row["max"]
        assert split["positives"] > 0
    assert QUANTILES <= set(card["label_train_frequency"])
    share = card["splits"]["test"]["share_positives_unseen_in_train"]
    assert 0.0 <= share <= 1.0
    assert "share_positives_unseen_in_train" not in card["splits"]["train"]
    assert card["skipped"]["total"] == 0 and card["skipped"]["by_reason"] == {}
    assert card["data_config"]["options"]["size"] == "tiny"
    # each run also leaves a copy in its own output folder, under paths.log_dir
    copies = sorted((tmp_path / "logs" / "runs").glob("*/dataset_card.json"))
    assert copies and json.loads(copies[-1].read_text()) == card

    # a changed data option is another dataset: its own cache folder, not a cache hit
    other = prepare(run_app, tmp_paths, tmp_path, *args, "data.options.seed=1")
    changed = cache_folder(other.stdout, "prepared and cached")
    assert changed != folder and changed.parent == folder.parent


def test_prepare_a_qac_dataset_needs_no_task_or_model(run_app, tmp_paths, tmp_path):
    """`experiments.prepare data=aol` as the guide writes it: the default task and model
    (xmr, XR-Linear on word features) do not matter to preparing the data; a bad data
    option still does."""
    from xmr.datasets.aol import write_synthetic_aol_file

    log = tmp_path / "aol-log"
    write_synthetic_aol_file(log / "user-ct-test-collection-01.txt.gz", 3000, 40, seed=0)
    proc = prepare(run_app, tmp_paths, tmp_path, "data=aol", f"paths.data_dir={log}")
    assert cache_folder(proc.stdout, "prepared and cached").name.startswith("aol-")
    bad = run_app("experiments.prepare", "data=aol", f"paths.data_dir={log}",
                  "data.options.user_fraction=2.0", *tmp_paths(tmp_path), cwd=tmp_path)
    assert bad.returncode != 0 and "user_fraction must be in (0, 1]" in bad.stderr


def test_missing_real_data_names_dataset_pattern_and_folder(run_app, tmp_paths, tmp_path):
    empty = tmp_path / "no-data-here"
    empty.mkdir()
    proc = run_app("experiments.prepare", "data=homedepot", f"paths.data_dir={empty}",
                   *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAILED: DataNotFoundError: dataset 'homedepot'" in proc.stderr
    assert "Traceback" not in proc.stderr  # one line that says it all
    assert "homedepot/homedepot_train.csv.gz" in proc.stderr  # the file pattern
    assert f"not found in {empty}" in proc.stderr  # the folder searched
    assert not (tmp_path / "cache" / "datasets").exists() or not any(
        (tmp_path / "cache" / "datasets").iterdir())


@pytest.mark.realdata
def test_prepare_bibtex(run_app, tmp_paths, tmp_path, shared_data):
    if not (shared_data / "bibtex").is_dir():
        pytest.skip(f"no bibtex/ under {shared_data}")
    proc = prepare(run_app, tmp_paths, tmp_path, "data=bibtex",
                   f"paths.data_dir={shared_data}")
    assert re.search(r"train\s+4,880 rows", proc.stdout)
    assert re.search(r"test\s+2,515 rows", proc.stdout)
    assert "159 labels, 1,836 features" in proc.stdout
    card = json.loads((cache_folder(proc.stdout, "prepared and cached")
                       / "dataset_card.json").read_text())
    assert card["n_features"] == 1836 and card["n_labels"] == 159
    assert card["splits"]["train"]["rows"] == 4880
    assert card["splits"]["test"]["rows"] == 2515
    assert card["has_texts"] is False
