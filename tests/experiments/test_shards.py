"""``model.shards=2`` in the harness with a local launcher: the shard tasks run as local
worker processes and the run's metrics equal one-process training's. (On SLURM, where each
shard is a SLURM job, see test_slurm.py.)"""

from __future__ import annotations

import pytest

from tests.experiments.test_run import assert_ok, store

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")]

# threshold 0.2 > the preset's train_threshold 0.05: the run trains, then re-prunes
POINT = ("experiment=smoke", "features=word1", "model.threshold=0.2", "eval.beam_size=10")
SAME = ("precision_at_1", "precision_at_5", "recall_at_10", "recall_at_100", "ndcg_at_10",
        "mrr_at_10", "model_nnz", "model_bytes")


def one_run(tmp_path, name, run_app, tmp_paths, mlflow_store, *extra):
    root = tmp_path / name
    root.mkdir()
    assert_ok(run_app("experiments.run", *POINT, *extra, *tmp_paths(root), cwd=root))
    _, _, [run] = store(root, mlflow_store)
    assert run.info.status == "FINISHED"
    return run, root


def test_sharded_run_equals_single_process(tmp_path, run_app, tmp_paths, mlflow_store):
    single, _ = one_run(tmp_path, "single", run_app, tmp_paths, mlflow_store)
    sharded, root = one_run(tmp_path, "sharded", run_app, tmp_paths, mlflow_store,
                            "model.shards=2", "model.shard_workers=2")
    tags = sharded.data.tags
    assert tags["shard_engine"] == "joblib" and tags["shard_tasks"] == "3"
    assert "shard_engine" not in single.data.tags
    assert sharded.data.metrics["trained"] == 1.0
    for m in SAME:
        assert sharded.data.metrics[m] == single.data.metrics[m], m
    # the tasks' inputs and weights are in the job's output folder
    out = next((root / "logs" / "runs").glob("*"))
    assert sorted(p.name for p in (out / "shards").glob("task*")) == ["task0", "task1",
                                                                      "task2"]


def test_bad_shards_value_is_refused(tmp_path, run_app, tmp_paths):
    proc = run_app("experiments.run", *POINT, "model.shards=0", *tmp_paths(tmp_path),
                   cwd=tmp_path)
    # the harness records a failing job as a FAILED run, with the library's message
    assert "FAILED: ValueError: n_shards must be >= 1, got 0" in proc.stdout, proc.stdout


def test_shards_do_not_enter_the_training_key(compose_cfg):
    from experiments.spec import resolve

    def key(*overrides):
        return resolve(compose_cfg(["experiment=smoke", *overrides])).training_key("dataset")

    # a sharded training is the same model: one cache entry for both
    assert key() == key("model.shards=4", "model.shard_workers=3")
    assert compose_cfg(["model.shards=4"]).model.shards == 4
