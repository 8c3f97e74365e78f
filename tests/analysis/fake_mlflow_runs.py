"""A fake MLflow store shaped like the harness's (same tags, params, metric names), for the
analysis tests: no training, a few seconds to write. Imported as ``fake_mlflow_runs``."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FEATURE_BASE = {"word1": 0.55, "word123": 0.62, "char3": 0.60, "all": 0.68}
QAC_CONFIGS = [  # (indexer, label embedding, trie depth) — a few rows of Table 2
    ("hkmeans", "pifa", None), ("hkmeans", "pos_tfidf", None), ("hybrid", "pos_tfidf", 1),
    ("hybrid", "pos_tfidf", 2), ("trie", "none", 16)]


class FakeStore:
    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.uri = f"sqlite:///{root / 'mlflow.db'}"
        self.client = MlflowClient(tracking_uri=self.uri)
        self.exp_id = self.client.create_experiment(
            "xmr-harness", artifact_location=(root / "mlruns").as_uri())
        self.t = 1_700_000_000_000  # start times: later runs are newer
        self.per_preset = False  # True: each run in the MLflow experiment of its preset (as
        # the harness logs now); False: all in "xmr-harness" (as older stores hold them)

    def experiment_id(self, experiment: str) -> str:
        if not getattr(self, "per_preset", False):
            return self.exp_id
        exp = self.client.get_experiment_by_name(experiment)
        return exp.experiment_id if exp else self.client.create_experiment(experiment)

    def run(self, params: dict, metrics: dict, *, experiment: str, status: str = "FINISHED",
            parent: str | None = None, config_hash: str | None = None, role: str | None = None,
            artifacts: dict[str, object] | None = None, per_query=None,
            dataset: tuple[str, str] | None = None) -> str:
        self.t += 1000
        tags = {"experiment": experiment, "sweep_id": "fake"}
        if parent:
            tags["mlflow.parentRunId"] = parent
        if config_hash:
            tags["config_hash"] = config_hash
        if role:
            tags["role"] = role
        run = self.client.create_run(self.experiment_id(experiment), start_time=self.t,
                                     tags=tags, run_name=config_hash or role)
        rid = run.info.run_id
        self.client.log_batch(
            rid, params=[Param(k, str(v)) for k, v in params.items()],
            metrics=[Metric(k, float(v), self.t, 0) for k, v in metrics.items()],
            tags=[RunTag("task", str(params.get("task", "xmr")))])
        for name, obj in (artifacts or {}).items():
            self.client.log_text(rid, json.dumps(obj), name)
        if per_query is not None:  # a pandas frame: the run's per_query.parquet
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "per_query.parquet"
                per_query.to_parquet(path, index=False)
                self.client.log_artifact(rid, str(path))
        if dataset is not None:  # (name, digest): the run's test set as an MLflow input
            from mlflow.entities import Dataset, DatasetInput, InputTag

            ds = Dataset(name=dataset[0], digest=dataset[1], source_type="code", source="{}")
            self.client.log_inputs(rid, datasets=[DatasetInput(
                ds, tags=[InputTag("mlflow.data.context", "test")])])
        self.client.set_terminated(rid, status=status, end_time=self.t + 500)
        return rid


def xmr_metrics(features: str, threshold: float, beam: int) -> dict[str, float]:
    """Plausible numbers: recall grows with the beam and falls with pruning; latency grows
    with the beam; size falls ~100x from threshold 0.01 to 0.5."""
    recall = FEATURE_BASE[features] * (1 - 0.25 * threshold) * (1 - 0.3 / (1 + beam))
    nnz = 2e6 * math.exp(-9 * threshold) * (1.3 if features == "all" else 1.0)
    return {"recall_at_10": recall, "recall_at_100": min(1.0, recall * 1.3),
            "precision_at_1": recall, "latency_p50_ms": 0.02 * beam ** 0.9 * (1 - threshold),
            "latency_p99_ms": 0.05 * beam ** 0.9, "train_time_s": 3.0, "model_nnz": nnz,
            "model_bytes": 8.0 * nnz + 4096}


def xmr_params(features: str, threshold: float, beam: int, *, model: str = "xrlinear",
               experiment: str = "product_search", size: str = "bench") -> dict[str, object]:
    return {"experiment_name": experiment, "task": "xmr", "data.name": "synthetic_products",
            "data.options.size": size, "model.name": model, "features.name": features,
            "indexer.name": "hkmeans", "model.threshold": threshold, "eval.beam_size": beam,
            "git_commit": COMMIT, "seed": 0}


def product_search(store: FakeStore, *, features=("word1", "all"), thresholds=(0.01, 0.1, 0.5),
                   beams=(1, 10, 50), experiment: str = "product_search") -> int:
    """A product-search-like sweep under one parent run; returns the number of child runs."""
    parent = store.run({}, {"n_jobs": 1.0}, experiment=experiment, role="sweep")
    n = 0
    for f in features:
        for t in thresholds:
            for b in beams:
                store.run(xmr_params(f, t, b, experiment=experiment),
                          xmr_metrics(f, t, b), experiment=experiment, parent=parent,
                          config_hash=f"{experiment}-{f}-{t}-{b}")
                n += 1
    return n


def baselines(store: FakeStore, models=("pecos", "ovr_linear", "dual_encoder")) -> None:
    for m in models:
        params = xmr_params("all", 0.1, 10, model=m)
        if m == "dual_encoder":  # no pruning, no beam
            params = {k: v for k, v in params.items()
                      if k not in ("model.threshold", "eval.beam_size")}
        metrics = xmr_metrics("word1", 0.3, 5)
        store.run(params, metrics, experiment="product_search", config_hash=f"base-{m}")


def qac_runs(store: FakeStore, *, with_slices: bool = True, with_mpc: bool = True) -> int:
    """Table 2-like QAC runs (task=qac) + MPC; slices.json on each when asked. Returns the
    number of runs."""
    n = 0
    for i, (indexer, emb, depth) in enumerate(QAC_CONFIGS):
        params = {"experiment_name": "qac_table2", "task": "qac", "data.name": "synthetic_qac",
                  "model.name": "xrlinear", "indexer.name": indexer,
                  "indexer.label_embedding": emb, "indexer.trie_depth": depth,
                  "features.name": "qac_posw", "git_commit": COMMIT}
        mrr = 0.2 + 0.03 * i
        # as xmr.qac.metrics.qac_slices writes it (the MPC run below: the bare-number shape)
        slices = {"prefix_length": {
            **{str(k): {"n": 50, "mrr_at_10": mrr * (0.4 + 0.06 * k), "bleu": 0.3}
               for k in range(1, 10)},
            "10+": {"n": 20, "mrr_at_10": mrr * 1.05, "bleu": 0.3}},
            "seen": {"seen": {"n": 400, "mrr_at_10": mrr, "bleu": 0.3}}}
        store.run(params, {"mrr_at_10": mrr, "bleu": 0.3 + 0.02 * i,
                           "latency_p50_ms": 1.0 + i, "latency_p99_ms": 3.0 + i},
                  experiment="qac_table2", config_hash=f"qac-{i}",
                  artifacts={"slices.json": slices} if with_slices else None)
        n += 1
    if with_mpc:
        params = {"experiment_name": "qac_table2", "task": "qac", "data.name": "synthetic_qac",
                  "model.name": "mpc", "git_commit": COMMIT}
        slices = {"prefix_length": {**{str(k): 0.05 * k for k in range(1, 10)}, ">=10": 0.4}}
        store.run(params, {"mrr_at_10": 0.1, "bleu": 0.2, "latency_p50_ms": 0.01,
                           "latency_p99_ms": 0.02}, experiment="qac_table2",
                  config_hash="qac-mpc",
                  artifacts={"slices.json": slices} if with_slices else None)
        n += 1
    return n


def paper1_runs(store: FakeStore, *, seeds=(0, 1, 2), commits: dict[int, str] | None = None,
                data: str = "homedepot", n_queries: int = 300) -> list[str]:
    """paper1_comparison-like runs (XR-Linear, dual encoder, OVR) with per_query.parquet,
    a dataset input, version params, MLflow's git tags and the machine's load while timing;
    ``commits``: seed → the git_commit its runs record (default all :data:`COMMIT`)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    ids = []
    for s in seeds:
        commit = (commits or {}).get(s, COMMIT)
        hits = (rng.random(n_queries) < 0.6).astype(np.float32)
        for model, keep in (("xrlinear", 1.0), ("dual_encoder", 0.3), ("ovr_linear", 0.25)):
            params = {"experiment_name": "paper1_comparison", "task": "xmr", "data.name": data,
                      "data.loader": data, "data.path": f"/home/someone/data/{data}",
                      "paths.log_dir": "/home/someone/logs", "model.name": model,
                      "features.name": "all", "indexer.name": "hkmeans",
                      "model.threshold": 0.1, "eval.beam_size": 10, "git_commit": commit,
                      "seed": s, "dataset_card_hash": f"card{s}", "version.numpy": "2.0.0"}
            r10 = hits * (rng.random(n_queries) < keep)
            frame = pd.DataFrame({"query_id": np.arange(n_queries, dtype=np.int32),
                                  "recall_at_10": r10.astype(np.float32),
                                  "recall_at_100": np.maximum(r10, hits).astype(np.float32)})
            metrics = {"recall_at_10": float(r10.mean()), "train_time_s": 2.0 if keep == 1.0
                       else 20.0 + s, "latency_p50_ms": 0.1, "latency_p99_ms": 0.3,
                       "latency_load_avg": 0.5, "cpu_count": 8.0}
            rid = store.run(params, metrics, experiment="paper1_comparison",
                            config_hash=f"p1-{model}-{s}", per_query=frame,
                            dataset=(f"{data}-test", f"card{s}"))
            head, _, dirty = commit.partition("-")
            store.client.set_tag(rid, "mlflow.source.git.commit", head)
            store.client.set_tag(rid, "mlflow.source.git.dirty", str(bool(dirty)).lower())
            store.client.set_tag(rid, "output_dir", f"/home/someone/outputs/{rid}")
            ids.append(rid)
    return ids
