"""Training, cached per training configuration (:meth:`experiments.spec.JobSpec.training_key`) in
memory and under ``paths.cache_dir``, for every runner of every task: a sweep over
prediction settings or pruning thresholds trains once."""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
from contextlib import contextmanager
from pathlib import Path

from experiments.code_version import code_version
from experiments.datacache import config_hash
from experiments.models import Runner
from experiments.spec import JobSpec
from xmr.warmup import warmup

log = logging.getLogger(__name__)

_MEMORY: dict[str, Runner] = {}  # in-process training cache (sequential sweeps)


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


def _fit(run: Runner, ds) -> None:
    warmup()  # JIT load outside the timed region
    run.fit(ds)


def train(spec: JobSpec, ds, dataset_key: str) -> tuple[Runner, bool, str]:
    """(trained runner at the run's threshold, trained_now, training key hash).
    Memory → disk (the data spec's cache_dir) → train. The key holds the version of the
    code that trains (:func:`experiments.code_version.code_version`): other code retrains."""
    key = {**spec.training_key(dataset_key), "code": code_version()}
    key_hash = config_hash(key)
    run = _MEMORY.get(key_hash)
    trained = run is None
    if run is None:
        run = spec.runner()
        trained = _train_or_load(run, ds, key, key_hash, Path(spec.data.cache_dir))
        _MEMORY[key_hash] = run
    if run.prunable:
        run = run.with_threshold(spec.threshold)
    return run, trained, key_hash


def _train_or_load(run: Runner, ds, key: dict, key_hash: str, cache_dir: Path) -> bool:
    if not run.cacheable:
        _fit(run, ds)
        return True
    folder = cache_dir / "models" / key_hash
    with _file_lock(cache_dir / "models" / f"{key_hash}.lock"):
        meta_file = folder / "train_meta.json"
        if meta_file.is_file():
            run.load(folder)
            run.fit_time_s = json.loads(meta_file.read_text())["train_time_s"]
            log.info("model cache hit: %s", folder)
            # left by a process stopped between caching the model and removing it
            shutil.rmtree(checkpoint_dir(cache_dir, key_hash), ignore_errors=True)
            return False
        # a neural model saves its state after every epoch here: a job stopped mid-training
        # (a session's end, a crash) resumes at its next epoch when rerun
        run.checkpoint_dir = checkpoint_dir(cache_dir, key_hash)
        _fit(run, ds)
        try:  # the meta file last: a folder without it is never read as a trained model
            run.save(folder)
            meta_file.write_text(json.dumps({"train_time_s": run.fit_time_s, "key": key},
                                            indent=2, default=str))
        except BaseException:  # a full disk: no half-written model left in the cache
            shutil.rmtree(folder, ignore_errors=True)
            raise
        shutil.rmtree(run.checkpoint_dir, ignore_errors=True)  # the model is cached now
    return True


def checkpoint_dir(cache_dir: Path, key_hash: str) -> Path:
    """Where a training of key ``key_hash`` keeps its per-epoch state until it is cached."""
    return cache_dir / "checkpoints" / key_hash
