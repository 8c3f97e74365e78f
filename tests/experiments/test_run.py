"""`python -m experiments.run -m experiment=smoke` end to end: one MLflow run per grid point
under a sweep parent run, params/metrics/artifacts, metrics.json per job, shared trainings,
skip-finished, a failing grid point, Ctrl-C, a parallel launcher and no tracking at all."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from experiments.datacache import config_hash

pytestmark = [pytest.mark.slow,
              # MLflow's own SQLAlchemy mapping, nothing of ours
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")]

REPO = Path(__file__).resolve().parents[2]
METRICS = ("precision_at_1", "precision_at_5", "recall_at_10", "recall_at_100", "ndcg_at_10",
           "mrr_at_10", "train_time_s", "latency_p50_ms", "latency_p99_ms", "throughput_qps",
           "model_nnz", "model_bytes")
UNIT_INTERVAL = ("precision_at_1", "precision_at_5", "recall_at_10", "recall_at_100",
                 "ndcg_at_10", "mrr_at_10")
ARTIFACTS = {"config.yaml", "metrics.json", "dataset_card.json", "predictions_sample.json"}
SMOKE_GRID = {(f, t, b, s) for f in ("word1", "all") for t in ("0.05", "0.2") for b in ("2", "10")
              for s in ("0", "1")}
SEED0 = "seed=0"  # the sweep-mechanics tests run seed 0 only (8 of the 16 grid points)
SMOKE_GRID_SEED0 = {g for g in SMOKE_GRID if g[3] == "0"}
SUMMARY = re.compile(r"sweep done: (\d+) jobs, (\d+) finished, (\d+) failed, (\d+) skipped "
                     r"\(already finished\), (\d+) trainings")


def summary(stdout: str) -> dict[str, int]:
    found = SUMMARY.findall(stdout)
    assert len(found) == 1, f"no single sweep summary line in:\n{stdout[-3000:]}"
    return dict(zip(("jobs", "finished", "failed", "skipped", "trainings"),
                    map(int, found[0]), strict=True))


def parents(runs) -> list:
    return [r for r in runs if r.data.tags.get("role") == "sweep"]


def children(runs, parent_id: str) -> list:
    return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id]


def grid_point(run) -> tuple[str, str, str, str]:
    p = run.data.params
    return p["features.name"], p["model.threshold"], p["eval.beam_size"], p["seed"]


def flat(tree: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out |= flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def sweep_folder(root: Path, parent_run_id: str) -> Path:
    """The Hydra sweep folder of the sweep whose MLflow parent run is ``parent_run_id``."""
    for f in (root / "logs" / "multiruns").glob("*/mlflow_parent_run.json"):
        if json.loads(f.read_text())["run_id"] == parent_run_id:
            return f.parent
    raise AssertionError(f"no sweep folder of parent run {parent_run_id} under {root}")


def store(root: Path, mlflow_store):
    client, exp_id = mlflow_store(root / "logs")
    return client, exp_id, client.search_runs([exp_id], max_results=10_000)


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-5000:]}"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, run_app, tmp_paths, mlflow_store):
    """The smoke sweep, run once for the tests of this module (fresh store and caches)."""
    root = tmp_path_factory.mktemp("smoke")
    proc = run_app("experiments.run", "-m", "experiment=smoke", *tmp_paths(root), cwd=root)
    assert_ok(proc)
    client, exp_id, runs = store(root, mlflow_store)
    [parent] = parents(runs)
    return SimpleNamespace(root=root, proc=proc, client=client, exp_id=exp_id, runs=runs,
                           parent=parent, children=children(runs, parent.info.run_id))


# -------------------------------------------------------------------- the smoke sweep
def test_smoke_sweep_summary(smoke):
    assert summary(smoke.proc.stdout) == {"jobs": 16, "finished": 16, "failed": 0,
                                          "skipped": 0, "trainings": 4}


def test_smoke_sweep_runs(smoke):
    assert len(smoke.runs) == 17  # 8 grid points x 2 seeds + the sweep's parent
    assert smoke.parent.info.status == "FINISHED"
    assert smoke.parent.data.tags["experiment"] == "smoke"
    assert len(smoke.children) == 16
    assert all(r.info.status == "FINISHED" for r in smoke.children)
    assert {grid_point(r) for r in smoke.children} == SMOKE_GRID
    assert len({r.data.tags["config_hash"] for r in smoke.children}) == 16
    m = smoke.parent.data.metrics
    assert (m["n_jobs"], m["n_finished"], m["n_failed"], m["n_skipped"], m["n_trainings"]) == (
        16, 16, 0, 0, 4)
    # the store and the artifacts live under paths.log_dir
    exp = smoke.client.get_experiment(smoke.exp_id)
    assert exp.artifact_location == (smoke.root / "logs" / "mlruns").as_uri()


def test_smoke_params(smoke):
    for run in smoke.children:
        params = run.data.params
        job_dir = Path(run.data.tags["output_dir"])
        config = yaml.safe_load((job_dir / "config.yaml").read_text())
        assert config["paths"]["output_dir"] == str(job_dir)
        config.pop("paths")
        expected = {k: str(v) for k, v in flat(config).items()}  # the flat resolved config
        # ... with ``tune`` reduced to this model's own search (none: no tune keys at all)
        own = f"tune.models.{config['model']['name']}."
        searched = any(k.startswith(own) for k in expected)
        expected = {k: v for k, v in expected.items() if not k.startswith("tune.")
                    or (searched and (k.startswith(own) or k == "tune.valid_fraction"))}
        assert not any(k.startswith("tune.") for k in params if k not in expected)
        assert {k: params.get(k) for k in expected} == expected
        for key in ("model.threshold", "eval.beam_size", "features.name", "data.name"):
            assert key in params
        assert params["data.name"] == "synthetic_tiny"
        assert params["latency_threads"] == "1"  # every single-query latency on one thread
        assert params["data.options.size"] == "tiny"
        assert params["version.numpy"] == np.__version__
        card = json.loads((job_dir / "dataset_card.json").read_text())
        assert params["dataset_card_hash"] == config_hash(card)
        commit = params["git_commit"]
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit), commit
        # the commit of the code that ran, although the command ran outside the checkout
        check = subprocess.run(["git", "cat-file", "-e", f"{commit.split('-')[0]}^{{commit}}"],
                               cwd=REPO, capture_output=True)
        assert check.returncode == 0, f"{commit} is not a commit of {REPO}"


def test_smoke_metrics_and_job_files(smoke):
    for run in smoke.children:
        metrics = run.data.metrics
        for name in METRICS:
            assert name in metrics, name
            assert math.isfinite(metrics[name]), (name, metrics[name])
        for name in UNIT_INTERVAL:
            assert 0.0 <= metrics[name] <= 1.0, (name, metrics[name])
        for name in ("latency_p50_ms", "throughput_qps", "model_nnz", "model_bytes"):
            assert metrics[name] > 0, name
        assert metrics["latency_p99_ms"] >= metrics["latency_p50_ms"]
        assert metrics["recall_at_100"] >= metrics["recall_at_10"]
        # one metrics.json per job, the same numbers
        job_dir = Path(run.data.tags["output_dir"])
        assert job_dir.parent.parent == smoke.root / "logs" / "multiruns"
        on_disk = json.loads((job_dir / "metrics.json").read_text())
        assert set(METRICS) <= set(on_disk)
        assert {k: on_disk[k] for k in metrics} == metrics
        artifacts = {a.path for a in smoke.client.list_artifacts(run.info.run_id)}
        assert ARTIFACTS <= artifacts, artifacts
        assert "traceback.txt" not in artifacts


def test_smoke_per_query_artifact(smoke, tmp_path):
    """per_query.parquet: one float32 row per test query, whose means are the run's metrics."""
    import pandas as pd

    for run in smoke.children[:4]:
        path = smoke.client.download_artifacts(run.info.run_id, "per_query.parquet",
                                               str(tmp_path / run.info.run_id))
        frame = pd.read_parquet(path)
        counts = ["n_pos", "n_pos_cold", "hits_at_10", "hits_cold_at_10"]  # warm / cold
        assert list(frame.columns) == ["query_id", "recall_at_10", "recall_at_100",
                                       "precision_at_1", "reciprocal_rank", *counts,
                                       "latency_ms"]
        assert (frame["latency_ms"] > 0).all()  # each query's own latency (text in)
        assert len(frame) == 200 and frame["query_id"].tolist() == list(range(200))
        assert {str(frame[c].dtype) for c in counts} == {"int32"}
        assert {str(t) for t in frame.drop(columns=["query_id", *counts]).dtypes} == {"float32"}
        # the counts agree with the recall the run logged
        recall = np.where(frame["n_pos"] > 0, frame["hits_at_10"] / frame["n_pos"], 0.0)
        assert recall == pytest.approx(frame["recall_at_10"].astype("float64"), abs=1e-6)
        assert (frame["hits_cold_at_10"] <= frame["n_pos_cold"]).all()
        m = run.data.metrics
        for col, metric in (("recall_at_10", "recall_at_10"), ("recall_at_100", "recall_at_100"),
                            ("precision_at_1", "precision_at_1"),
                            ("reciprocal_rank", "mrr_at_10")):
            assert frame[col].astype("float64").mean() == pytest.approx(m[metric], abs=1e-6)


def test_smoke_seeds_move_data_and_model(smoke):
    """seed=1 draws other synthetic data and trains another model than seed=0."""
    by_seed = {}
    for r in smoke.children:
        by_seed.setdefault(r.data.params["seed"], set()).add(r.data.params["dataset_card_hash"])
    assert set(by_seed) == {"0", "1"}
    assert all(len(h) == 1 for h in by_seed.values()) and by_seed["0"] != by_seed["1"]
    assert {r.data.params["data.options.seed"] for r in smoke.children} == {"0", "1"}


def test_smoke_artifact_contents(smoke, tmp_path):
    run = smoke.children[0]
    folder = Path(smoke.client.download_artifacts(run.info.run_id, "", str(tmp_path)))
    assert json.loads((folder / "metrics.json").read_text()) == pytest.approx(run.data.metrics)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["features"]["name"] == run.data.params["features.name"]
    samples = json.loads((folder / "predictions_sample.json").read_text())
    assert len(samples) == 20  # eval.n_prediction_samples
    assert {"query", "predicted", "relevant"} <= set(samples[0])
    card = json.loads((folder / "dataset_card.json").read_text())
    assert card["splits"]["test"]["rows"] == 200


def test_smoke_shares_trainings(smoke):
    trained = [r for r in smoke.children if r.data.metrics["trained"] == 1.0]
    assert sum(r.data.metrics["trained"] for r in smoke.children) == 4
    assert {(r.data.params["features.name"], r.data.params["seed"]) for r in trained} == {
        (f, s) for f in ("word1", "all") for s in ("0", "1")}
    # one training per feature set and seed, reused over thresholds and beams
    train_keys = {}
    for r in smoke.children:
        train_keys.setdefault((r.data.params["features.name"], r.data.params["seed"]),
                              set()).add(r.data.tags["train_key"])
    assert all(len(keys) == 1 for keys in train_keys.values())
    assert len(set.union(*train_keys.values())) == 4


def test_smoke_pruning_shrinks_the_model(smoke):
    nnz = {grid_point(r): r.data.metrics["model_nnz"] for r in smoke.children}
    for features in ("word1", "all"):
        for s in ("0", "1"):
            for beam in ("2", "10"):
                assert nnz[(features, "0.05", beam, s)] >= nnz[(features, "0.2", beam, s)]
            # the model does not depend on the beam
            assert nnz[(features, "0.05", "2", s)] == nnz[(features, "0.05", "10", s)]


def test_smoke_sweep_folder(smoke):
    sweep_dir = sweep_folder(smoke.root, smoke.parent.info.run_id)
    assert Path(smoke.children[0].data.tags["output_dir"]).parent == sweep_dir
    parent_file = json.loads((sweep_dir / "mlflow_parent_run.json").read_text())
    assert parent_file["run_id"] == smoke.parent.info.run_id
    written = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert written.pop("failed") == [] and written.pop("no_result") == []
    assert written == {k: int(v) for k, v in smoke.parent.data.metrics.items()}
    assert sorted(int(p.parent.name) for p in sweep_dir.glob("*/metrics.json")) == list(
        range(16))


# ------------------------------------------------------ what MLflow's UI and the terminal show
def test_one_model_training_experiment_per_preset_with_its_saved_view(smoke):
    from experiments import mlflow_ui

    names = {e.name for e in smoke.client.search_experiments()}
    assert "smoke" in names and "xmr-harness" not in names  # the preset's own experiment
    exp = smoke.client.get_experiment(smoke.exp_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"  # not GenAI
    assert "smoke" in exp.tags["mlflow.note.content"]
    envelope = json.loads(exp.tags["mlflow.sharedViewState.headline-metrics"])
    assert {"name", "createdAt", "updatedAt", "state"} <= set(envelope)
    state = json.loads(envelope["state"])
    assert state["orderByKey"] == "metrics.`recall_at_10`" and state["orderByAsc"] is False
    columns = state["selectedColumns"]
    for key in ("features.name", "model.threshold", "eval.beam_size"):  # the swept params
        assert f"params.`{key}`" in columns
    for metric in ("recall_at_10", "recall_at_100", "precision_at_1", "mrr_at_10",
                   "latency_p50_ms", "latency_p99_ms", "train_time_s", "model_bytes"):
        assert f"metrics.`{metric}`" in columns
    assert "attributes.`Dataset`" in columns
    # the view's filter selects exactly the grid points (what the UI will list)
    listed = smoke.client.search_runs([smoke.exp_id], filter_string=state["searchFilter"],
                                      order_by=["metrics.recall_at_10 DESC"])
    assert {r.info.run_id for r in listed} == {r.info.run_id for r in smoke.children}
    url = mlflow_ui.runs_url(smoke.exp_id)
    assert f"/#/experiments/{smoke.exp_id}/runs?" in url
    assert "viewStateShareKey=headline-metrics" in url and "workflowType=machine_learning" in url
    assert f"open {url}" in smoke.proc.stdout  # the sweep ends with the link


def test_smoke_datasets_are_mlflow_datasets(smoke):
    for run in smoke.children:
        inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
        assert sorted(inputs) == ["synthetic_tiny-test", "synthetic_tiny-train"]
        card = json.loads((Path(run.data.tags["output_dir"]) / "dataset_card.json").read_text())
        for split, context in (("train", "training"), ("test", "test")):
            d = inputs[f"synthetic_tiny-{split}"]
            assert d.dataset.digest == run.data.params["dataset_card_hash"] == config_hash(card)
            assert {t.key: t.value for t in d.tags} == {"mlflow.data.context": context}
            assert d.dataset.source_type == "code"
            source = json.loads(d.dataset.source)["tags"]
            assert source["generator"] == "xmr.datasets.synthetic.make_product_search"
            assert source["seed"] == run.data.params["seed"]  # the seed draws the data
            profile = json.loads(d.dataset.profile)
            assert profile["rows"] == card["splits"][split]["rows"]
            assert profile["labels"] == card["n_labels"] == 200
            schema = json.loads(d.dataset.schema)["mlflow_colspec"]
            assert [c["name"] for c in schema] == ["query", "relevant_labels"]


def test_smoke_sources_and_descriptions(smoke):
    for run in smoke.children:
        tags, params = run.data.tags, run.data.params
        assert tags["mlflow.source.name"] == "experiments.run"
        assert tags["mlflow.source.type"] == "LOCAL"
        assert tags["mlflow.source.git.commit"] == params["git_commit"].split("-")[0]
        assert tags["mlflow.source.git.dirty"] == str(params["git_commit"].endswith("-dirty")
                                                      ).lower()
        note = tags["mlflow.note.content"]
        features, threshold, beam, _ = grid_point(run)
        for words in (f"features **{features}**", f"pruning threshold **{threshold}**",
                      f"beam width **{beam}**", "synthetic_tiny (tiny)", "`smoke` sweep"):
            assert words in note, (words, note)
        assert tags["role"] == "grid_point"


def test_terminal_dataset_summary_once_and_a_sorted_table(smoke):
    out = smoke.proc.stdout
    # once per dataset (each seed draws its own synthetic data), not once per job
    assert out.count("dataset synthetic_products (xmr): 200 labels") == 2
    lines = [ln for ln in out.splitlines() if ln.startswith("| ")]
    head, rows = lines[0], lines[1:]
    cols = [c.strip() for c in head.strip().strip("|").split("|")]
    assert cols[:5] == ["", "features", "model.threshold", "eval.beam_size", "seed"]
    assert {"R@10", "R@100", "P@1", "MRR@10", "p50 ms", "p99 ms", "train s", "MB"} <= set(cols)
    assert len(rows) == 16
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    assert {tuple(c[1:5]) for c in cells} == SMOKE_GRID
    recall = [float(c[cols.index("R@10")]) for c in cells]
    assert recall == sorted(recall, reverse=True)
    by_point = {grid_point(r): r.data.metrics["recall_at_10"] for r in smoke.children}
    assert recall[0] == pytest.approx(max(by_point.values()), abs=1e-4)
    assert [c[0] for c in cells].count("*") == recall.count(recall[0])


def test_the_real_mlflow_server_serves_the_comparison(smoke):
    """`mlflow server` (the process `make ui` starts) over the smoke store, on a free port,
    asked over HTTP what the browser asks: the experiment (model-training kind, saved view),
    its grid-point runs in the view's order, their metrics and datasets, and the web app."""
    import urllib.request

    from experiments.tools import ui

    def call(base: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{base}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    uri = f"sqlite:///{smoke.root / 'logs' / 'mlflow.db'}"
    with ui.serve(uri) as base:
        exp = call(base, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=smoke")
        exp = exp["experiment"]
        assert exp["experiment_id"] == smoke.exp_id
        tags = {t["key"]: t["value"] for t in exp["tags"]}
        assert tags["mlflow.experimentKind"] == "custom_model_development"
        state = json.loads(json.loads(tags["mlflow.sharedViewState.headline-metrics"])["state"])
        found = call(base, "/api/2.0/mlflow/runs/search", {
            "experiment_ids": [smoke.exp_id], "filter": state["searchFilter"],
            "order_by": ["metrics.recall_at_10 DESC"], "max_results": 100})["runs"]
        assert {r["info"]["run_id"] for r in found} == {r.info.run_id for r in smoke.children}
        recall = [{m["key"]: m["value"] for m in r["data"]["metrics"]}["recall_at_10"]
                  for r in found]
        assert recall == sorted(recall, reverse=True)
        for r in found:
            metrics = {m["key"]: m["value"] for m in r["data"]["metrics"]}
            assert set(METRICS) <= set(metrics)
            datasets = r["inputs"]["dataset_inputs"]
            assert sorted(d["dataset"]["name"] for d in datasets) == [
                "synthetic_tiny-test", "synthetic_tiny-train"]
            params = {p["key"]: p["value"] for p in r["data"]["params"]}
            assert {d["dataset"]["digest"] for d in datasets} == {params["dataset_card_hash"]}
        with urllib.request.urlopen(f"{base}/", timeout=60) as r:  # the web app itself
            assert r.status == 200 and b"<div id=\"root\"" in r.read()


def test_ui_command_prints_each_comparisons_link(smoke):
    from experiments import mlflow_ui

    proc = subprocess.run([sys.executable, "-m", "experiments.tools.ui", "--print-only",
                           "--log-dir", str(smoke.root / "logs"), "--port", "5123"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert mlflow_ui.runs_url(smoke.exp_id, "http://127.0.0.1:5123") in proc.stdout
    assert "smoke" in proc.stdout and " 16 runs" in proc.stdout  # 8 grid points x 2 seeds
    missing = subprocess.run([sys.executable, "-m", "experiments.tools.ui", "--print-only",
                              "--log-dir", str(smoke.root / "nothing")],
                             capture_output=True, text=True, cwd=REPO, timeout=120)
    assert missing.returncode == 3 and "make demo" in missing.stderr


# ------------------------------------------------------------------- skip-finished
def test_rerun_skips_finished_then_reruns_when_asked(smoke, run_app, tmp_paths, mlflow_store):
    all_ids = {r.info.run_id for r in smoke.children}
    first_ids = {r.info.run_id for r in smoke.children if r.data.params["seed"] == "0"}
    args = ("experiments.run", "-m", "experiment=smoke", SEED0, *tmp_paths(smoke.root))

    proc = run_app(*args, cwd=smoke.root)
    assert_ok(proc)
    assert proc.stdout.count("skipped, already FINISHED") == 8
    assert proc.stdout.count("skipped (done before) |") == 8  # the table still has the metrics
    assert summary(proc.stdout) == {"jobs": 8, "finished": 0, "failed": 0, "skipped": 8,
                                    "trainings": 0}
    _, _, runs = store(smoke.root, mlflow_store)
    grid_runs = [r for r in runs if r.data.tags.get("role") != "sweep"]
    assert {r.info.run_id for r in grid_runs} == all_ids  # no new grid-point run
    [second] = [r for r in parents(runs) if r.info.run_id != smoke.parent.info.run_id]
    assert second.info.status == "FINISHED"
    assert second.data.metrics["n_skipped"] == 8 and second.data.metrics["n_trainings"] == 0
    sweep_dir = sweep_folder(smoke.root, second.info.run_id)
    skipped = [json.loads(f.read_text()) for f in sorted(sweep_dir.glob("*/metrics.json"))]
    assert len(skipped) == 8
    assert all(m["status"] == "SKIPPED" for m in skipped)
    assert {m["finished_run_id"] for m in skipped} == first_ids
    assert all(math.isfinite(m["recall_at_10"]) for m in skipped)

    proc = run_app(*args, "logger.skip_finished=false", cwd=smoke.root)
    assert_ok(proc)
    assert "skipped, already FINISHED" not in proc.stdout
    assert summary(proc.stdout) == {"jobs": 8, "finished": 8, "failed": 0, "skipped": 0,
                                    "trainings": 0}  # the trained models come from the cache
    _, _, runs = store(smoke.root, mlflow_store)
    assert len(parents(runs)) == 3
    third = max(parents(runs), key=lambda r: r.info.start_time)
    rerun = children(runs, third.info.run_id)
    assert len(rerun) == 8 and all(r.info.status == "FINISHED" for r in rerun)
    assert {grid_point(r) for r in rerun} == SMOKE_GRID_SEED0
    assert not {r.info.run_id for r in rerun} & all_ids
    assert len([r for r in runs if r.info.status == "FINISHED"]) == 16 + 8 + 3


# ---------------------------------------------------------------- a failing grid point
def test_xl_preset_runs_at_a_tiny_size(tmp_path, run_app, tmp_paths):
    """`experiment=product_search_xl` with the data size overridden to tiny: its six grid
    points run from one training."""
    proc = run_app("experiments.run", "-m", "experiment=product_search_xl",
                   "data.options.size=tiny", "indexer.max_leaf_size=20",
                   "eval.latency_min_queries=50", "eval.latency_warmup=10",
                   *tmp_paths(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary(proc.stdout) == {"jobs": 6, "finished": 6, "failed": 0, "skipped": 0,
                                    "trainings": 1}


def test_failing_grid_point_is_recorded_and_the_sweep_goes_on(tmp_path, run_app, tmp_paths,
                                                               mlflow_store):
    args = ("experiments.run", "-m", "experiment=smoke", SEED0, "features=word1",
            "model.threshold=0.2", "eval.beam_size=2", "data.options.size=tiny,nope",
            *tmp_paths(tmp_path))
    proc = run_app(*args, cwd=tmp_path)
    # one failing job never takes the sweep down, but the exit code says it failed
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert summary(proc.stdout) == {"jobs": 2, "finished": 1, "failed": 1, "skipped": 0,
                                    "trainings": 1}
    client, _, runs = store(tmp_path, mlflow_store)
    [parent] = parents(runs)
    [ok] = [r for r in children(runs, parent.info.run_id) if r.info.status == "FINISHED"]
    [failed] = [r for r in children(runs, parent.info.run_id) if r.info.status == "FAILED"]
    assert len(runs) == 3
    assert ok.data.params["data.options.size"] == "tiny"
    assert failed.data.params["data.options.size"] == "nope"  # the config is logged anyway
    assert parent.info.status == "FAILED"  # the sweep had a failure
    assert parent.data.metrics["n_failed"] == 1 and parent.data.metrics["n_finished"] == 1

    artifacts = {a.path for a in client.list_artifacts(failed.info.run_id)}
    assert "traceback.txt" in artifacts
    text = Path(client.download_artifacts(failed.info.run_id, "traceback.txt",
                                          str(tmp_path / "dl"))).read_text()
    assert "ValueError" in text and "'nope'" in text
    job_dir = Path(failed.data.tags["output_dir"])
    assert "Traceback" in (job_dir / "traceback.txt").read_text()
    written = json.loads((job_dir / "metrics.json").read_text())
    assert written["status"] == "FAILED" and "nope" in written["error"]
    assert "FAILED: ValueError" in proc.stdout

    # a rerun skips the finished point and retries the failed one
    proc = run_app(*args, cwd=tmp_path)
    assert proc.returncode == 1
    assert summary(proc.stdout) == {"jobs": 2, "finished": 0, "failed": 1, "skipped": 1,
                                    "trainings": 0}


# ---------------------------------------------------------------------------- in-process
@pytest.fixture
def job_cfg(compose_cfg, tmp_path, monkeypatch):
    """compose(logger) -> one smoke grid point, every path under tmp_path, no outside store."""
    import experiments.training

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(experiments.training, "_MEMORY", {})  # no model from another test

    def _cfg(logger: str, *extra: str,
             base: tuple[str, ...] = ("experiment=smoke", "model.threshold=0.2")):
        return compose_cfg([*base, "features=word1", "eval.beam_size=2", f"logger={logger}",
                            f"paths.log_dir={tmp_path / 'logs'}",
                            f"paths.cache_dir={tmp_path / 'cache'}",
                            f"paths.output_dir={tmp_path / 'out'}", *extra])

    return _cfg


def test_ctrl_c_ends_the_run_as_killed(job_cfg, tmp_path, monkeypatch, mlflow_store):
    import experiments.training
    from experiments.job import run_job

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments.training, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_job(job_cfg("mlflow"))
    _, _, runs = store(tmp_path, mlflow_store)
    assert [r.info.status for r in runs] == ["KILLED"]
    assert runs[0].info.end_time is not None
    assert not (tmp_path / "out" / "traceback.txt").exists()  # not a failure of the job


def test_experiment_name_override_and_system_metrics(job_cfg, tmp_path, mlflow_store):
    from experiments.job import run_job

    run_job(job_cfg("mlflow", "logger.experiment_name=my-comparison",
                    "logger.system_metrics=true", "logger.system_metrics_interval_s=0.05"))
    client, exp_id = mlflow_store(tmp_path / "logs", "my-comparison")
    assert client.get_experiment_by_name("smoke") is None  # the override wins
    [run] = client.search_runs([exp_id])
    assert run.info.status == "FINISHED"
    assert "recall_at_10" in run.data.metrics
    system = {k for k in run.data.metrics if k.startswith("system/")}
    assert "system/cpu_utilization_percentage" in system, sorted(run.data.metrics)
    assert "system/system_memory_usage_megabytes" in system
    # a single run writes the experiment's saved view too (no swept columns)
    exp = client.get_experiment(exp_id)
    assert "mlflow.sharedViewState.headline-metrics" in exp.tags


def test_system_metrics_are_off_by_default(compose_cfg):
    assert compose_cfg([]).logger.system_metrics is False


def test_ctrl_c_inside_a_compiled_call_is_still_a_kill(job_cfg, tmp_path, monkeypatch,
                                                       mlflow_store):
    # a SIGINT that lands inside a numba call comes back as a SystemError with the interrupt
    # set; the signal handler remembered the signal, so the job ends KILLED, not FAILED
    import experiments.training
    from experiments import outcome
    from experiments.job import run_job

    def interrupted_in_numba(*args, **kwargs):
        outcome._INTERRUPTED.append(2)
        raise SystemError("CPUDispatcher(...) returned a result with an exception set")

    monkeypatch.setattr(outcome, "_INTERRUPTED", [])
    monkeypatch.setattr(experiments.training, "train", interrupted_in_numba)
    with pytest.raises(KeyboardInterrupt):
        run_job(job_cfg("mlflow"))
    _, _, runs = store(tmp_path, mlflow_store)
    assert [r.info.status for r in runs] == ["KILLED"]
    assert not (tmp_path / "out" / "traceback.txt").exists()


def test_main_returns_the_headline_metric(job_cfg, tmp_path):
    from experiments.run import main

    value = main(job_cfg("none"))  # the Hydra task function, with a composed config
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert isinstance(value, float) and math.isfinite(value)
    assert value == metrics["recall_at_10"]
    assert 0.0 < value <= 1.0
    assert not (tmp_path / "logs" / "mlflow.db").exists()


def test_ovr_threshold_is_chosen_on_validation(job_cfg, tmp_path):
    """The OVR baseline at its own best: threshold null = chosen on held-out training rows
    among {0, 0.01, 0.05, 0.1}; the choice and every candidate's score are run metrics."""
    from experiments.run import main

    cfg = job_cfg("none", base=("data=synthetic_tiny", "model=ovr_linear",
                                "eval.latency_min_queries=50", "eval.latency_warmup=10"))
    assert cfg.model.threshold is None
    assert list(cfg.model.threshold_candidates) == [0.0, 0.01, 0.05, 0.1]
    main(cfg)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    scores = {c: m[f"valid_recall_at_10_t{c:g}"] for c in (0.0, 0.01, 0.05, 0.1)}
    assert m["ovr_threshold"] in scores
    assert scores[m["ovr_threshold"]] == max(scores.values())
    assert m["model_bytes"] > 0 and m["threshold_selection_s"] > 0


# ------------------------------------------------------------------ parallel launcher
def test_parallel_sweep_with_joblib(tmp_path, run_app, tmp_paths, mlflow_store):
    proc = run_app("experiments.run", "-m", "experiment=smoke", SEED0, "hydra/launcher=joblib",
                   "hydra.launcher.n_jobs=2", *tmp_paths(tmp_path), cwd=tmp_path)
    assert_ok(proc)
    assert summary(proc.stdout) == {"jobs": 8, "finished": 8, "failed": 0, "skipped": 0,
                                    "trainings": 2}
    _, _, runs = store(tmp_path, mlflow_store)
    [parent] = parents(runs)
    kids = children(runs, parent.info.run_id)
    assert len(runs) == 9 and len(kids) == 8
    assert all(r.info.status == "FINISHED" for r in runs)
    assert {grid_point(r) for r in kids} == SMOKE_GRID_SEED0
    n_params = {len(r.data.params) for r in kids}
    assert len(n_params) == 1  # no param lost to a concurrent writer
    for r in kids:
        assert set(METRICS) <= set(r.data.metrics)
        assert "git_commit" in r.data.params and "dataset_card_hash" in r.data.params
    # one training per feature set across the two processes (the file lock)
    assert sum(r.data.metrics["trained"] for r in kids) == 2
    assert parent.data.metrics["n_trainings"] == 2


# ------------------------------------------------------------------------ no tracking
def test_logger_none_writes_metrics_json_only(tmp_path, run_app, tmp_paths):
    proc = run_app("experiments.run", "logger=none", "experiment=smoke", "features=word1",
                   "model.threshold=0.2", "eval.beam_size=2", *tmp_paths(tmp_path),
                   cwd=tmp_path)
    assert_ok(proc)
    assert "[run] recall@10" in proc.stdout
    [metrics_file] = (tmp_path / "logs" / "runs").glob("*/metrics.json")
    metrics = json.loads(metrics_file.read_text())
    assert set(METRICS) <= set(metrics)
    assert (metrics_file.parent / "config.yaml").is_file()
    assert (metrics_file.parent / "predictions_sample.json").is_file()
    assert not list(tmp_path.rglob("mlflow.db"))
    assert not list(tmp_path.rglob("mlruns"))
