"""The committed results bundles regenerate their claims table exactly, with no MLflow store
(issue 25: a reproduction a reviewer can re-check)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import claims, load

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(p.parent for p in (ROOT / "docs" / "results").glob("*/runs.parquet"))


def test_there_is_a_committed_bundle():
    assert BUNDLES, "no results bundle under docs/results/"


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_the_claims_csv_regenerates_byte_for_byte(bundle: Path, tmp_path: Path):
    assert claims.main(["--bundle", str(bundle), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "claims.csv").read_bytes() == (bundle / "claims.csv").read_bytes()


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_one_clean_commit_and_every_table_present(bundle: Path):
    runs = load.load_bundle_runs(bundle)
    commits = set(runs["git_commit"].dropna().astype(str))
    assert len(commits) == 1 and not any(c.endswith("-dirty") for c in commits), commits
    table = pd.read_csv(bundle / "claims.csv")
    used = {r for ids in table["run_ids"].dropna() for r in str(ids).split(";") if r}
    assert used and used <= set(runs["run_id"])
    for rid in used:
        assert (bundle / load.BUNDLE_PER_QUERY / f"{rid}.parquet").is_file(), rid
