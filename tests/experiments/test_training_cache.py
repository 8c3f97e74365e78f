"""One training cache for every task: grid points that differ only in prediction settings or
in the pruning threshold reuse one trained model, for QAC as for product retrieval; keys
hold only what reaches the model."""

from __future__ import annotations

import json

import pytest

from experiments.spec import resolve

pytestmark = pytest.mark.slow


@pytest.fixture
def run_point(compose_cfg, tmp_path, monkeypatch):
    """run_point(overrides) -> metrics.json of one in-process job (no tracking)."""
    import experiments.training
    from experiments.job import run_job

    monkeypatch.setattr(experiments.training, "_MEMORY", {})

    def _run(overrides: list[str]) -> dict:
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        run_job(compose_cfg([*overrides, "logger=none", f"paths.log_dir={tmp_path / 'logs'}",
                             f"paths.cache_dir={tmp_path / 'cache'}",
                             f"paths.output_dir={out}"]))
        return json.loads((out / "metrics.json").read_text())

    return _run


def test_a_qac_sweep_over_beams_and_thresholds_trains_once(run_point):
    base = ["experiment=smoke_qac", "qac=row5", "eval.latency_min_queries=5",
            "eval.latency_warmup=1"]
    first = run_point([*base, "eval.beam_size=10"])
    other_beam = run_point([*base, "eval.beam_size=2"])
    # trained at 0.1 (the default threshold), re-pruned for every threshold above it
    pruned = run_point([*base, "model.train_threshold=0.1", "model.threshold=0.3"])
    more = run_point([*base, "model.train_threshold=0.1", "model.threshold=0.5"])
    assert first["trained"] == 1.0
    assert other_beam["trained"] == pruned["trained"] == more["trained"] == 0.0
    assert first["model_nnz"] == other_beam["model_nnz"] > pruned["model_nnz"] > \
        more["model_nnz"]
    # another training level is another model
    assert run_point([*base, "model.threshold=0.05"])["trained"] == 1.0


def test_training_keys_hold_only_what_reaches_the_model(compose_cfg):
    def key(*overrides):
        return resolve(compose_cfg(list(overrides))).training_key("dataset")

    # an indexer key the chosen indexer does not have leaves the key
    assert key("experiment=smoke_qac", "qac=row9") == \
        key("experiment=smoke_qac", "qac=row9", "indexer.max_iter=3", "indexer.nr_splits=4")
    # one it has stays in it (it reaches the indexer)
    assert key("experiment=smoke") != key("experiment=smoke", "indexer.max_iter=3")
    # prediction settings and speed settings never enter
    assert key("experiment=smoke") == key("experiment=smoke", "eval.beam_size=3",
                                          "model.n_jobs=1")
    # the dual encoder reads raw text: the features and the indexer leave its key
    assert key("model=dual_encoder", "features=word1") == \
        key("model=dual_encoder", "features=all", "indexer.max_leaf_size=7")


def test_a_model_trained_by_other_code_is_never_reused(run_point, monkeypatch):
    import experiments.training

    base = ["experiment=smoke_qac", "qac=row5", "eval.latency_min_queries=5",
            "eval.latency_warmup=1"]
    assert run_point(base)["trained"] == 1.0
    monkeypatch.setattr(experiments.training, "_MEMORY", {})  # only the disk cache is left
    assert run_point(base)["trained"] == 0.0  # same code: the disk cache answers
    monkeypatch.setattr(experiments.training, "code_version", lambda: "other code")
    assert run_point(base)["trained"] == 1.0  # other code: trained again, from disk or memory
    monkeypatch.setattr(experiments.training, "_MEMORY", {})
    assert run_point(base)["trained"] == 0.0  # ... and cached under its own key


def test_the_code_version_is_the_source_of_the_library_and_baselines(tmp_path):
    import shutil

    from experiments.code_version import REPO, code_version, source_hash

    assert code_version() == source_hash(REPO)[:16] == code_version()
    for package in ("xmr", "baselines"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    before = source_hash(tmp_path)
    assert before == source_hash(REPO)  # the path of the checkout does not enter
    (tmp_path / "notes.py").write_text("x = 1\n")  # outside the packages: not training code
    (tmp_path / "xmr" / "README.txt").write_text("not python\n")
    assert source_hash(tmp_path) == before
    (tmp_path / "baselines" / "new_model.py").write_text("x = 1\n")  # a new file
    added = source_hash(tmp_path)
    assert added != before
    (tmp_path / "baselines" / "new_model.py").write_text("x = 2\n")  # a changed byte
    assert source_hash(tmp_path) not in {before, added}
    (tmp_path / "baselines" / "new_model.py").unlink()
    (tmp_path / "xmr" / "sub").mkdir()
    (tmp_path / "xmr" / "sub" / "new_model.py").write_text("x = 1\n")  # same bytes, new path
    assert source_hash(tmp_path) not in {before, added}
