"""The XMR (product retrieval) job: train (cached per training configuration) → re-prune →
predict → evaluate → time, for any model of :mod:`experiments.models`. Returns metrics and
artifacts; knows nothing of MLflow."""

from __future__ import annotations

import fcntl
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from omegaconf import DictConfig
from tqdm.auto import tqdm

import xmr
from experiments import build
from experiments.datacache import config_hash
from experiments.models import PRUNABLE, Runner, runner
from xmr.datasets.tasks import XMRDataset
from xmr.warmup import warmup

log = logging.getLogger(__name__)
CHUNK = 20_000  # rows per featurisation/prediction chunk (progress bars)

_MEMORY: dict[str, Runner] = {}  # in-process training cache (sequential sweeps)


@dataclass
class JobResult:
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, object] = field(default_factory=dict)  # name → JSON-able
    per_query: dict[str, np.ndarray] | None = None  # column → one value per test query


@contextmanager
def _file_lock(path: Path):
    """Only one process trains a given configuration; the others wait, then load it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _train(cfg: DictConfig, ds: XMRDataset, key: dict, cache_dir: Path
           ) -> tuple[Runner, bool]:
    """(trained runner, trained_now). Memory → disk (paths.cache_dir) → train."""
    key_hash = config_hash(key)
    if key_hash in _MEMORY:
        return _MEMORY[key_hash], False
    run = runner(cfg)
    folder = cache_dir / "models" / key_hash
    if not run.cacheable:
        warmup()
        run.fit(ds.splits["train"], ds.label_texts)
        _MEMORY[key_hash] = run
        return run, True
    with _file_lock(cache_dir / "models" / f"{key_hash}.lock"):
        meta_file = folder / "train_meta.json"
        if meta_file.is_file():
            run.load(folder)
            run.fit_time_s = json.loads(meta_file.read_text())["train_time_s"]
            log.info("model cache hit: %s", folder)
            _MEMORY[key_hash] = run
            return run, False
        warmup()  # JIT load outside the timed region
        run.fit(ds.splits["train"], ds.label_texts)
        run.save(folder)
        meta_file.write_text(json.dumps({"train_time_s": run.fit_time_s, "key": key},
                                        indent=2, default=str))
    _MEMORY[key_hash] = run
    return run, True


def _samples(ds: XMRDataset, test, scores: sp.csr_matrix, n: int) -> list[dict]:
    top = xmr.topk_labels(scores, 10)
    out = []
    for r in range(min(n, scores.shape[0])):
        labels = [int(c) for c in top[r] if c >= 0]

        def name(c: int) -> str:
            return ds.label_texts[c] if ds.label_texts is not None else ds.label_ids[c]

        out.append({"query": test.texts[r] if test.texts is not None else f"row {r}",
                    "predicted": [name(c) for c in labels],
                    "relevant": [name(int(c)) for c in test.Y[r].indices]})
    return out


def _chunks(n: int, desc: str):
    # disable=None: no bar when the output is not a terminal
    return tqdm(range(0, n, CHUNK), desc=desc, unit="chunk", leave=False, disable=None)


def run_xmr(cfg: DictConfig, ds: XMRDataset, dataset_key: str) -> JobResult:
    key = build.training_key(cfg, dataset_key)
    run, trained = _train(cfg, ds, key, Path(cfg.paths.cache_dir))
    if cfg.model.name in PRUNABLE:
        run = run.with_threshold(float(cfg.model.threshold))

    test = ds.splits["test"]
    X_test = run.features(test)
    ev = cfg.eval
    topk = max(int(ev.topk), 100)
    t0 = time.perf_counter()
    scores = sp.vstack([run.predict(X_test[i:i + CHUNK], ev, topk)
                        for i in _chunks(test.n, "predict")], format="csr")
    batch_s = time.perf_counter() - t0
    metrics = xmr.ranking_metrics(test.Y, scores)
    per_query = xmr.per_query_metrics(test.Y, scores)

    n_lat = min(max(ev.latency_min_queries, test.n), ev.latency_max_queries)
    latency = run.latency(test, X_test, ev, n_lat)
    metrics |= {"train_time_s": run.fit_time_s, "latency_p50_ms": latency["latency_p50_ms"],
                "latency_p99_ms": latency["latency_p99_ms"],
                "latency_mean_ms": latency["latency_mean_ms"],
                "throughput_qps": test.n / batch_s if batch_s > 0 else float("nan"),
                **run.size(), "trained": 1.0 if trained else 0.0}
    tags = {"train_key": config_hash(key), "train_cache_hit": str(not trained).lower(),
            **run.tags()}
    artifacts = {"predictions_sample.json": _samples(ds, test, scores,
                                                     ev.n_prediction_samples)}
    return JobResult(metrics=metrics, tags=tags, artifacts=artifacts, per_query=per_query)


def headline(metrics: dict[str, float], task: str) -> float:
    return float(metrics.get("mrr_at_10" if task == "qac" else "recall_at_10", np.nan))
