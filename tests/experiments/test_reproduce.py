"""`python -m experiments.reproduce`: the plan (every claim family's preset, absent datasets
skipped with the command that would run them), then `--quick` end to end: every step runs, the
claims table is written, and a rerun trains nothing new."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from analysis import claims as claims_table
from analysis.claims import FAMILIES
from experiments import reproduce


def test_the_plan_covers_every_claim_family():
    full = {s.preset for s in reproduce.plan(quick=False)}
    quick = {s.preset for s in reproduce.plan(quick=True)}
    assert full == {presets[0] for presets in FAMILIES.values()}
    assert quick == {presets[1] for presets in FAMILIES.values()}
    # the real data of the claims, and our generators as pipeline checks
    datasets = {(s.preset, s.dataset.name) for s in reproduce.plan(quick=False)}
    assert {("paper1_comparison", "homedepot"), ("product_search", "homedepot"),
            ("qac_table2", "aol"), ("qac_comparison", "aol")} <= datasets
    assert all(not s.dataset.files for s in reproduce.plan(quick=True))  # nothing to download


def test_every_full_preset_sweeps_seeds_in_its_conf(compose_cfg):
    from experiments.overrides import _swept_values

    for step in reproduce.plan(quick=False):
        cfg = compose_cfg([f"experiment={step.preset}"], return_hydra_config=True)
        assert _swept_values([], cfg)["seed"] == ["0", "1", "2"], step.preset


@pytest.mark.parametrize("text, seeds", [("0,1,2", (0, 1, 2)), ("7", (7,))])
def test_seeds_parse(text, seeds):
    assert reproduce.parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["0,x", "-1", "1,1", ""])
def test_bad_seeds_are_refused(text):
    with pytest.raises(Exception, match="--seeds must be"):
        reproduce.parse_seeds(text)


def test_absent_datasets_are_skipped_with_the_command_that_would_run_them(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "aol").mkdir(parents=True)
    (data / "aol" / "aol_top1000users.tsv.gz").write_bytes(b"")  # AOL present, Home Depot not
    code = reproduce.main(["all", "--data-dir", str(data), "--dry-run", "--seeds", "0,1",
                           "-o", f"paths.root_dir={tmp_path}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "skip paper1_comparison on homedepot: no file matching homedepot/" in out
    assert f"under the data folder (Kaggle Home Depot train.csv) {data}" in out
    assert ("to run it: python -m experiments.run -m experiment=product_search data=homedepot "
            "data.options.title_as_input=true seed=0,1") in out
    # 4 models x 2 seeds; 13 Table 2 rows x 2; 7 configurations x 2, twice
    assert "paper1_comparison on synthetic_products (demo): 8 jobs" in out
    assert "qac_table2 on aol: 26 jobs" in out
    assert "qac_comparison on aol: 14 jobs" in out
    assert "4 sweeps, 62 jobs (seeds 0,1)" in out
    assert not (tmp_path / "logs" / "reproduce").exists()  # a dry run runs nothing


def test_bad_override_stops_before_anything_runs(tmp_path, capsys):
    code = reproduce.main(["--quick", "-o", "eval.beam_sise=3", "-o",
                           f"paths.root_dir={tmp_path}"])
    assert code == 2
    assert "eval.beam_size" in capsys.readouterr().err  # the closest valid key


def _reproduce(root: Path, *args: str):
    from conftest import _run_app  # noqa: PLC0415

    # a claims table that refuses runs of a dirty tree would refuse a working copy's
    mixed = ["--allow-mixed"] if "--allow-mixed" in inspect.getsource(claims_table) else []
    return _run_app("experiments.reproduce", "--quick", "--no-progress", *mixed, "--out",
                    str(root / "claims"), "-o", f"paths.root_dir={root}", *args, cwd=root,
                    timeout=900)


def _summary(root: Path) -> dict:
    return json.loads((root / "claims" / reproduce.SUMMARY_FILE).read_text())


@pytest.mark.slow
@pytest.mark.peer
def test_quick_runs_everything_writes_the_claims_and_resumes(tmp_path, peer_python):
    first = _reproduce(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    claims = tmp_path / "claims" / "claims.csv"
    assert claims.is_file() and (tmp_path / "claims" / "claims.md").is_file()
    summary = _summary(tmp_path)
    assert summary["seeds"] == [0, 1] and summary["quick"] is True
    assert [s["preset"] for s in summary["steps"]] == [
        "smoke_paper1", "smoke", "smoke_qac", "smoke_qac_comparison"]
    for step in summary["steps"]:
        assert step["status"] == "done" and step["failed"] == 0, step
        assert step["ran"] == step["n_jobs"] > 0 and step["trainings"] > 0, step
    assert str(tmp_path) not in (tmp_path / "claims" / reproduce.SUMMARY_FILE).read_text()
    for step in reproduce.plan(quick=True):  # each sweep's whole output, kept
        assert (tmp_path / "logs" / "reproduce" / f"{step.slug}.log").is_file()

    claims.unlink()
    again = _reproduce(tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for step in _summary(tmp_path)["steps"]:  # every grid point was already FINISHED
        assert step["ran"] == 0 and step["trainings"] == 0, step
        assert step["skipped"] == step["n_jobs"] > 0, step
    assert claims.is_file()
