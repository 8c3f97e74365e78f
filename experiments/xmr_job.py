"""The XMR (product retrieval) job: featurize → index → train (cached) → prune → predict →
evaluate → time. Returns metrics and artifacts; knows nothing of MLflow."""

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
from xmr.datasets.tasks import XMRDataset
from xmr.features import TextFeaturizer
from xmr.timing import measure_latency
from xmr.warmup import warmup

log = logging.getLogger(__name__)
CHUNK = 20_000  # rows per featurisation/prediction chunk (progress bars)

_MEMORY: dict[str, tuple] = {}  # in-process training cache (sequential sweeps)


@dataclass
class JobResult:
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, object] = field(default_factory=dict)  # name → JSON-able


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


def _featurize(feat: TextFeaturizer, texts: list[str], desc: str) -> sp.csr_matrix:
    chunks = tqdm(range(0, len(texts), CHUNK), desc=desc, unit="chunk", leave=False,
                  disable=None)  # disable=None: no bar when the output is not a terminal
    parts = [feat.transform(texts[i:i + CHUNK]) for i in chunks]
    return sp.vstack(parts, format="csr") if parts else feat.transform([])


def _train(cfg: DictConfig, ds: XMRDataset, key: dict, cache_dir: Path):
    """(featurizer or None, model, train_time_s, trained_now). Memory → disk → train."""
    key_hash = config_hash(key)
    if key_hash in _MEMORY:
        return (*_MEMORY[key_hash], False)
    folder = cache_dir / "models" / key_hash
    with _file_lock(cache_dir / "models" / f"{key_hash}.lock"):
        meta_file = folder / "train_meta.json"
        if meta_file.is_file():
            meta = json.loads(meta_file.read_text())
            feat = (TextFeaturizer.load(folder / "featurizer")
                    if (folder / "featurizer").is_dir() else None)
            model = xmr.XRLinear.load(folder / "model")
            log.info("model cache hit: %s", folder)
            _MEMORY[key_hash] = (feat, model, meta["train_time_s"])
            return feat, model, meta["train_time_s"], False
        train = ds.splits["train"]
        warmup()  # JIT load outside the timed region
        t0 = time.perf_counter()
        feat = None
        if train.texts is not None:
            feat = build.featurizer(cfg).fit(train.texts)
            X = _featurize(feat, train.texts, "featurize train")
        else:
            X = train.X
        model = build.xrlinear(cfg).fit(X, train.Y)
        train_time = time.perf_counter() - t0  # featurisation + indexing + training
        if feat is not None:
            feat.save(folder / "featurizer")
        model.save(folder / "model")
        meta_file.write_text(json.dumps({"train_time_s": train_time, "key": key}, indent=2,
                                        default=str))
    _MEMORY[key_hash] = (feat, model, train_time)
    return feat, model, train_time, True


def _model_bytes(model: xmr.XRLinear) -> int:
    return int(sum(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes for W in model.weights_))


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


def run_xmr(cfg: DictConfig, ds: XMRDataset, dataset_key: str) -> JobResult:
    cache_dir = Path(cfg.paths.cache_dir)
    key = build.training_key(cfg, dataset_key)
    feat, model, train_time, trained = _train(cfg, ds, key, cache_dir)
    threshold = float(cfg.model.threshold)
    if threshold > model.threshold_:
        model = model.prune(threshold)

    test = ds.splits["test"]
    X_test = _featurize(feat, test.texts, "featurize test") if feat is not None else test.X
    ev = cfg.eval
    topk = max(int(ev.topk), 100)
    t0 = time.perf_counter()
    chunks = tqdm(range(0, X_test.shape[0], CHUNK), desc="predict", unit="chunk",
                  leave=False, disable=None)
    parts = [model.predict(X_test[i:i + CHUNK], beam_size=ev.beam_size, topk=topk,
                           post_processor=ev.post_processor) for i in chunks]
    scores = sp.vstack(parts, format="csr")
    batch_s = time.perf_counter() - t0
    metrics = xmr.ranking_metrics(test.Y, scores)

    n_lat = min(max(ev.latency_min_queries, test.n), ev.latency_max_queries)
    if feat is not None:
        queries = test.texts

        def one(text):
            idx, val = feat.transform_one(text)
            return model.predict_one(idx, val, beam_size=ev.beam_size, topk=10,
                                     post_processor=ev.post_processor)
    else:
        queries = [(X_test.indices[X_test.indptr[i]:X_test.indptr[i + 1]],
                    X_test.data[X_test.indptr[i]:X_test.indptr[i + 1]])
                   for i in range(X_test.shape[0])]

        def one(q):
            return model.predict_one(q[0], q[1], beam_size=ev.beam_size, topk=10,
                                     post_processor=ev.post_processor)
    latency = measure_latency(one, queries, n_warmup=ev.latency_warmup, min_timed=n_lat)
    latency.pop("n_timed")
    metrics |= {"train_time_s": train_time, "latency_p50_ms": latency["latency_p50_ms"],
                "latency_p99_ms": latency["latency_p99_ms"],
                "latency_mean_ms": latency["latency_mean_ms"],
                "throughput_qps": X_test.shape[0] / batch_s if batch_s > 0 else float("nan"),
                "model_nnz": float(model.model_nnz_), "model_bytes": float(_model_bytes(model)),
                "trained": 1.0 if trained else 0.0}
    tags = {"train_key": config_hash(key), "train_cache_hit": str(not trained).lower(),
            "tree_levels": str(model.tree_.level_sizes)}
    artifacts = {"predictions_sample.json": _samples(ds, test, scores,
                                                     ev.n_prediction_samples)}
    return JobResult(metrics=metrics, tags=tags, artifacts=artifacts)


def headline(metrics: dict[str, float], task: str) -> float:
    return float(metrics.get("mrr_at_10" if task == "qac" else "recall_at_10", np.nan))
