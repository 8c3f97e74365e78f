"""The claims table refuses mixed code, and a results bundle regenerates it exactly without
the MLflow store (issue 25)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fake_mlflow_runs import COMMIT, FakeStore, paper1_runs

from analysis import bundle, claims, load

OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def _store(tmp_path: Path, commits=None) -> FakeStore:
    store = FakeStore(tmp_path / "store")
    paper1_runs(store, commits=commits)
    return store


def test_one_clean_commit_is_named_in_claims_md(tmp_path):
    store = _store(tmp_path)
    out = tmp_path / "out"
    assert claims.main(["--tracking-uri", store.uri, "--out", str(out)]) == 0
    md = (out / "claims.md").read_text()
    assert f"library commit `{COMMIT}`" in md
    assert str(tmp_path) not in md and "sqlite" not in md  # no local path


@pytest.mark.parametrize("commits, why", [({2: OTHER}, "several commits"),
                                          ({0: COMMIT + "-dirty", 1: COMMIT + "-dirty",
                                            2: COMMIT + "-dirty"}, "dirty")])
def test_mixed_code_is_refused_unless_allowed(tmp_path, capsys, commits, why):
    store = _store(tmp_path, commits)
    out = tmp_path / "out"
    code = claims.main(["--tracking-uri", store.uri, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == claims.EXIT_MIXED and why in err and "--allow-mixed" in err
    assert not (out / "claims.csv").exists()
    assert claims.main(["--tracking-uri", store.uri, "--out", str(out), "--allow-mixed"]) == 0
    md = (out / "claims.md").read_text()
    assert "MIXED code" in md and COMMIT in md
    # analysis.figures' working view builds it anyway, saying so
    preview = claims.build_preview(load.load_runs(store.uri), tmp_path / "preview")
    assert not preview.missing
    assert "MIXED code" in (tmp_path / "preview" / "claims.md").read_text()


def test_code_version_reads_mlflow_git_tags_when_the_param_is_missing():
    raw = pd.DataFrame({"run_id": ["a", "b"], "status": ["FINISHED"] * 2,
                        "start_time": pd.to_datetime([1, 2], unit="s", utc=True),
                        "tags.mlflow.source.git.commit": [COMMIT, COMMIT],
                        "tags.mlflow.source.git.dirty": ["false", "true"]})
    runs = load.tidy(raw)
    assert list(runs["git_commit"]) == [COMMIT, COMMIT + "-dirty"]
    with pytest.raises(load.MixedCodeError, match="several commits"):
        load.code_version(runs)


def test_bundle_regenerates_claims_csv_byte_for_byte_without_the_store(tmp_path):
    store = _store(tmp_path)
    from_store = tmp_path / "from_store"
    assert claims.main(["--tracking-uri", store.uri, "--out", str(from_store)]) == 0
    out = tmp_path / "bundle"
    assert bundle.main(["export", "--out", str(out), "--tracking-uri", store.uri]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "claims.csv", "claims.md", "cost.csv", "cost.md", "diagnostics.csv", "diagnostics.md",
        "environment.json", "per_query", "runs.csv", "runs.parquet"]
    # what the runs cost: per model and a total per preset and dataset, from their times
    cost = pd.read_csv(out / "cost.csv")
    raw = pd.read_csv(out / "runs.csv", parse_dates=["start_time", "end_time"])
    wall = (raw["end_time"] - raw["start_time"]).dt.total_seconds().sum() / 60
    total = cost[cost["model"] == "all (sum)"]
    assert total["runs"].sum() == len(raw) == cost.loc[cost["model"] != "all (sum)",
                                                       "runs"].sum()
    assert total["wall_min"].sum() == pytest.approx(wall)
    assert "| **all (sum)** |" in (out / "cost.md").read_text()
    assert len(list((out / "per_query").glob("*.parquet"))) == 9
    # the store is gone: the bundle alone regenerates the table
    (tmp_path / "store" / "mlflow.db").unlink()
    again = tmp_path / "again"
    assert claims.main(["--bundle", str(out), "--out", str(again)]) == 0
    csv = (again / "claims.csv").read_bytes()
    assert csv == (out / "claims.csv").read_bytes() == (from_store / "claims.csv").read_bytes()
    table = pd.read_csv(again / "claims.csv").set_index("claim")
    assert table.loc["C1a", "n_seeds"] == 3 and table.loc["C1a", "kind"] == claims.REAL
    # nothing written names a path of this machine
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert str(tmp_path).encode() not in data and b"/home/someone" not in data, path
    env = json.loads((out / "environment.json").read_text())
    assert env["git_commits"] == [COMMIT] and env["cpu_count"] == [8.0]
    assert env["package_versions"] == {"numpy": ["2.0.0"]}
    assert env["latency_load_avg"]["max"] == 0.5
    runs = pd.read_csv(out / "runs.csv")
    assert runs["inputs.datasets"].str.contains("homedepot-test:card").all()
    assert (runs["params.data.path"] == "<local>/homedepot").all()
