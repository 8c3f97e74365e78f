"""Adding a model takes what docs/guide/extending.md says: one runner, one params dataclass and
one YAML file. This test writes exactly those three (outside the repository: a module named in
$XMR_RUNNER_MODULES and a config folder on hydra.searchpath) and runs a smoke sweep of them."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from tests.experiments.test_run import assert_ok, summary

REPO = Path(__file__).resolve().parents[2]

RUNNER = '''
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from experiments.models import XMRRunner, register


@dataclass
class PopularParams:
    """The dummy model's one hyperparameter."""

    smoothing: float = 1.0  # added to every label's training count (> 0)


@register
class PopularRunner(XMRRunner):
    """Ranks every query's labels by their training frequency (a dummy model)."""

    name = "popular_dummy"
    params = PopularParams
    inputs = ("features",)

    @classmethod
    def check(cls, parts) -> None:
        if not parts.params["smoothing"] > 0:
            raise ValueError(f"smoothing must be > 0, got {parts.params['smoothing']}")

    def fit(self, ds) -> None:
        t0 = time.perf_counter()
        split = ds.splits["train"]
        self._fit_features(split)
        counts = np.asarray(split.Y.sum(axis=0)).ravel() + self.parts.params["smoothing"]
        self.order = np.argsort(-counts, kind="stable")
        self.scores = (counts[self.order] / counts.sum()).astype(np.float32)
        self.fit_time_s = time.perf_counter() - t0

    def predict(self, X, inf, topk):
        k = min(topk, self.order.size)
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        return sp.csr_matrix((np.tile(self.scores[:k], n), np.tile(self.order[:k], n),
                              np.arange(n + 1) * k), shape=(n, self.order.size))

    def one(self, q, inf):
        self._row(q)
        return self.order[:10], self.scores[:10]

    def save(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        self.feat.save(folder / "featurizer")
        np.savez(folder / "model.npz", order=self.order, scores=self.scores)

    def load(self, folder):
        self.feat = type(self.parts.featurizer).load(folder / "featurizer")
        data = np.load(folder / "model.npz")
        self.order, self.scores = data["order"], data["scores"]
        return self
'''

YAML = """\
# The dummy model: ranks labels by training frequency.
defaults:
  - /schema/model/popular_dummy@_here_
  - _self_
name: popular_dummy
"""


def test_a_model_is_one_runner_one_params_class_and_one_yaml(tmp_path, run_app, tmp_paths,
                                                              mlflow_store):
    plugin_dir, conf_dir = tmp_path / "plugin", tmp_path / "conf_extra"
    plugin_dir.mkdir()
    (plugin_dir / "popular_dummy.py").write_text(textwrap.dedent(RUNNER))
    (conf_dir / "model").mkdir(parents=True)
    (conf_dir / "model" / "popular_dummy.yaml").write_text(YAML)
    env = {"XMR_RUNNER_MODULES": "popular_dummy",
           "PYTHONPATH": os.pathsep.join([str(plugin_dir), str(REPO)])}
    args = ("experiments.run", "-m", "data=synthetic_tiny", "features=word1",
            "model=popular_dummy", "model.smoothing=1,5", "seed=0",
            f"hydra.searchpath=[file://{conf_dir}]", "eval.latency_min_queries=20",
            "eval.latency_warmup=2", *tmp_paths(tmp_path))
    proc = run_app(*args, cwd=tmp_path, env=env)
    assert_ok(proc)
    assert summary(proc.stdout) == {"jobs": 2, "finished": 2, "failed": 0, "skipped": 0,
                                    "trainings": 2}
    client, exp_id = mlflow_store(tmp_path / "logs", "xmr-harness")  # no preset
    runs = client.search_runs([exp_id])
    points = [r for r in runs if r.data.tags.get("role") == "grid_point"]
    assert sorted(r.data.params["model.smoothing"] for r in points) == ["1.0", "5.0"]
    for r in points:
        assert r.data.tags["model"] == "popular_dummy"
        assert r.data.tags["model_kind"] == "baseline"
        assert 0.0 <= r.data.metrics["recall_at_10"] <= 1.0
        job_dir = Path(r.data.tags["output_dir"])
        assert json.loads((job_dir / "metrics.json").read_text())["recall_at_10"] >= 0.0

    # its own check runs before the sweep: a bad value is refused with its message (exit 2)
    bad = run_app(*args[:5], "model.smoothing=0", *args[6:], cwd=tmp_path, env=env)
    assert bad.returncode == 2, bad.stdout[-2000:] + bad.stderr[-2000:]
    assert "smoothing must be > 0, got 0" in bad.stderr
