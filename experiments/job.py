"""One Hydra job end to end, wrapped so that a failure is recorded (FAILED run + traceback,
metrics.json with the error) and never propagates to the sweep, and Ctrl-C ends the run as
KILLED before it propagates."""

from __future__ import annotations

import json
import logging
import math
import os
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments.datacache import card_summary, config_hash, prepare_dataset
from experiments.validate import check_config
from xmr.datasets.registry import get_dataset

log = logging.getLogger(__name__)


def flat_params(cfg: DictConfig) -> dict[str, object]:
    """The resolved config (without hydra/paths) as dotted keys."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    tree.pop("paths", None)
    out: dict[str, object] = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = node

    walk(tree, "")
    return out


def grid_hash(cfg: DictConfig) -> str:
    """Identifies a grid point: everything but where things are written and how they are
    tracked."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    for key in ("paths", "logger"):
        tree.pop(key, None)
    return config_hash(tree)


def _hydra_info() -> tuple[int | None, Path | None]:
    """(job number, sweep folder) in a multirun; (None, None) otherwise."""
    try:
        hc = HydraConfig.get()
    except ValueError:
        return None, None
    if hc.mode is not None and hc.mode.name == "MULTIRUN":
        return hc.job.num, Path(hc.sweep.dir)
    return None, None


def _job_overrides() -> list[str]:
    """This job's command-line overrides (sweep values filled in); [] outside Hydra."""
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def _show_card_once(card: dict, sweep_dir: Path | None) -> None:
    """The dataset summary, printed once per sweep (the first job to load the dataset claims
    a marker in the sweep folder; parallel jobs too), and always in the job's log file."""
    text = card_summary(card)
    log.debug("%s", text)
    if sweep_dir is not None:
        marker = sweep_dir / f".dataset-shown-{card.get('cache_key', card['name'])}"
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            return
    print(text, flush=True)


def load_data(cfg: DictConfig):
    d = cfg.data
    options = OmegaConf.to_object(d.options)
    options_dict = OmegaConf.to_container(d.options, resolve=True)
    return prepare_dataset(d.name, d.loader, options, options_dict, cfg.paths.data_dir,
                           cfg.paths.cache_dir)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=str))


PER_QUERY = "per_query.parquet"  # one row per test query (analysis/load.py reads it)


def write_per_query(path: Path, columns: dict) -> None:
    """``per_query.parquet``: ``query_id`` (the test row, int32) + one float32 column per
    per-query metric (integer columns such as ``prefix_length`` as int32); no texts."""
    import numpy as np
    import pandas as pd

    n = len(next(iter(columns.values())))
    frame = {"query_id": np.arange(n, dtype=np.int32)}
    for name, values in columns.items():
        values = np.asarray(values)
        frame[name] = values.astype(np.int32 if values.dtype.kind in "iu" else np.float32)
    pd.DataFrame(frame).to_parquet(path, index=False)


def run_job(cfg: DictConfig) -> float:
    from experiments.tasks import get_task

    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    job_num, sweep_dir = _hydra_info()
    label = f"[job {job_num}]" if job_num is not None else "[run]"
    cfg_hash = grid_hash(cfg)
    task = get_task(cfg)
    point = task.point(cfg)

    tracker = None
    monitor = None
    try:
        check_config(cfg)  # the ranges the library checks, before any data is loaded
        if cfg.logger.name == "mlflow":
            from experiments import mlflow_ui, tracking

            uri = tracking.tracking_uri(cfg.logger.tracking_uri, cfg.paths.log_dir)
            exp_name = mlflow_ui.experiment_name(cfg)
            client, _ = tracking.open_store(uri, exp_name, cfg.paths.log_dir)
            exp_id = mlflow_ui.ensure_experiment(client, exp_name, cfg.paths.log_dir,
                                                 preset=cfg.experiment_name)
            if sweep_dir is None:  # a sweep's callback does these once for all its jobs
                tracking.end_stale_runs(client, exp_id)
                mlflow_ui.ensure_view(client, exp_id, cfg.task, [])
            if cfg.logger.skip_finished:
                done = tracking.find_finished(client, exp_id, cfg_hash)
                if done is not None:
                    metrics = dict(done.data.metrics)
                    _write_json(out_dir / "metrics.json", {**metrics, "status": "SKIPPED",
                                                           "finished_run_id": done.info.run_id})
                    print(f"{label} skipped, already FINISHED as run {done.info.run_id}: "
                          f"{point}", flush=True)
                    _record(out_dir, sweep_dir)
                    return headline(metrics, task.headline)
            parent = None
            if sweep_dir is not None and (sweep_dir / tracking.PARENT_FILE).is_file():
                parent = json.loads((sweep_dir / tracking.PARENT_FILE).read_text())["run_id"]
            run_name = cfg.logger.run_name or task.run_name(cfg)
            sweep_id = sweep_dir.name if sweep_dir is not None else ""
            tags = {"config_hash": cfg_hash, "experiment": str(cfg.experiment_name),
                    "data": cfg.data.name, "model": cfg.model.name, "task": cfg.task,
                    "sweep_id": sweep_id, "output_dir": str(out_dir.resolve()),
                    "role": mlflow_ui.GRID_POINT_ROLE,
                    **mlflow_ui.source_tags(tracking.git_commit()),
                    mlflow_ui.mlflow_tags.MLFLOW_RUN_NOTE: mlflow_ui.describe_point(
                        cfg, _job_overrides(), sweep_id or None)}
            if os.environ.get("SLURM_JOB_ID"):  # where the run ran, on a SLURM cluster
                tags |= {"slurm_job_id": os.environ["SLURM_JOB_ID"],
                         "slurm_node": os.environ.get("SLURMD_NODENAME", "")}
            tracker = tracking.TrackedRun(uri, exp_name, cfg.paths.log_dir, run_name, tags,
                                          parent)
            if cfg.logger.system_metrics:
                monitor = mlflow_ui.start_system_metrics(tracker.run_id, uri,
                                                         cfg.logger.system_metrics_interval_s)
    except Exception as exc:  # a bad config or store: this job FAILED, the sweep goes on
        _fail(exc, out_dir, label, point, None, cfg)
        _record(out_dir, sweep_dir)
        return math.nan

    error: BaseException | None = None
    try:
        on_data = None
        if tracker is not None:  # the run lists its datasets even if training fails

            def on_data(card: dict) -> None:
                tracker.log_inputs(mlflow_ui.dataset_inputs(cfg, card, config_hash(card)))

        result, hit, card = run_task(cfg, task, out_dir, sweep_dir=sweep_dir, on_data=on_data)
        metrics = result.metrics
        _write_json(out_dir / "metrics.json", metrics)
        for name, obj in result.artifacts.items():
            _write_json(out_dir / name, obj)
        files = list(result.artifacts)
        if result.per_query is not None:
            write_per_query(out_dir / PER_QUERY, result.per_query)
            files.append(PER_QUERY)
        if tracker is not None:
            from experiments import tracking

            tracker.log_params(flat_params(cfg) | {"git_commit": tracking.git_commit()}
                               | tracking.package_versions()
                               | {"dataset_card_hash": config_hash(card)} | result.params)
            tracker.log_metrics(metrics)
            tracker.set_tags(result.tags | {"dataset_cache_hit": str(hit).lower()})
            for name in ("config.yaml", "metrics.json", "dataset_card.json", *files):
                tracker.log_artifact(out_dir / name)
        trained = "trained" if metrics.get("trained") else "reused model"
        quality = "  ".join(f"{name} {metrics[key]:.4f}" for name, key in task.quality)
        print(f"{label} {quality}  p50 {metrics['latency_p50_ms']:.3f} ms  "
              f"p99 {metrics['latency_p99_ms']:.3f} ms  "
              f"train {metrics['train_time_s']:.1f} s ({trained})  | {point}", flush=True)
        return headline(metrics, task.headline)
    except KeyboardInterrupt as exc:
        error = exc
        raise
    except Exception as exc:  # one failing job never takes the sweep down
        from experiments.outcome import interrupted

        if interrupted():  # Ctrl-C inside a numba call surfaces as a SystemError
            error = KeyboardInterrupt()
            raise error from exc
        error = exc
        _fail(exc, out_dir, label, point, tracker, cfg)
        return math.nan
    finally:
        if monitor is not None:
            monitor.finish()
        if tracker is not None:
            from experiments.tracking import end_status

            try:
                tracker.end(end_status(error))
            except Exception:  # noqa: BLE001 - the next sweep marks a run left RUNNING
                log.exception("could not end the MLflow run")
        if not isinstance(error, KeyboardInterrupt):
            _record(out_dir, sweep_dir)


def _record(out_dir: Path, sweep_dir: Path | None) -> None:
    """A single run reports its status to the entry point (a sweep reads its job folders)."""
    if sweep_dir is None:
        from experiments import outcome

        outcome.record_job(out_dir)


def _fail(exc: Exception, out_dir: Path, label: str, point: str, tracker,
          cfg: DictConfig) -> None:
    """A job failed: traceback.txt and metrics.json (status FAILED) in its folder, the
    traceback and config in MLflow, one line on stdout naming the error and the file."""
    tb = traceback.format_exc()
    (out_dir / "traceback.txt").write_text(tb)
    _write_json(out_dir / "metrics.json", {"status": "FAILED",
                                           "error": f"{type(exc).__name__}: {exc}"})
    if tracker is not None:
        try:
            tracker.log_text(tb, "traceback.txt")
            tracker.log_params(flat_params(cfg))
        except Exception:  # noqa: BLE001 - the FAILED status matters more
            log.exception("could not log the failure details to MLflow")
    print(f"{label} FAILED: {type(exc).__name__}: {exc}  | {point} "
          f"(traceback: {out_dir / 'traceback.txt'})", flush=True)


def run_task(cfg: DictConfig, task, out_dir: Path, *, sweep_dir: Path | None = None,
             on_data: Callable[[dict], None] | None = None):
    """The job proper, the same for every task: check → load → train (cached) → evaluate.
    ``on_data(card)`` runs once the data is loaded; the dataset summary is printed once per
    sweep (``sweep_dir``). Returns (JobResult, dataset cache hit, dataset card)."""
    from experiments import build, training

    spec = get_dataset(cfg.data.loader)
    if spec.task != cfg.task:  # before loading: a wrong pairing costs nothing
        raise ValueError(f"data={cfg.data.name} is a {spec.task!r} dataset but "
                         f"task={cfg.task!r}; use task={spec.task} (the presets set it)")
    build.runner(cfg)  # config errors before any data is prepared
    ds, card, _, hit = load_data(cfg)
    _show_card_once(card, sweep_dir)
    _write_json(out_dir / "dataset_card.json", card)
    if on_data is not None:
        on_data(card)
    run, trained, key_hash = training.train(cfg, ds, card.get("data_key", card["cache_key"]))
    result = task.evaluate(run, ds, build.inference(cfg), cfg.eval, trained=trained)
    result.tags = {"train_key": key_hash, "train_cache_hit": str(not trained).lower(),
                   **task.tags(cfg), **result.tags}
    return result, hit, card


def headline(metrics: dict[str, float], name: str) -> float:
    """The value a sweep optimises (NaN when the job did not produce it)."""
    return float(metrics.get(name, math.nan))
