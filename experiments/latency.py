"""Interleaved latency: the models a claim compares, timed in one process, round-robin.

    python -m experiments.latency --experiment NAME [--tracking-uri URI | --log-dir logs]
                                  [--repeats 3] [--block 50] [--max-requests N] [--force]
                                  [--settle 300]

Each job times its own model in its own process (:func:`experiments.results.time_requests`),
so two models a claim compares are timed minutes apart, under whatever else the machine did
then. This step times them again, after the sweep, side by side: for each group of FINISHED
grid-point runs of the preset that share their data (``params.dataset_card_hash``) and seed
(the runs a claim compares: :mod:`analysis.claims`), every model of the group is rebuilt from
its run's ``config.yaml`` (:func:`experiments.spec.resolve`), its trained model loaded from
the training cache (the run's tag ``train_key``) and re-pruned to the run's threshold; then
the models answer the test requests one at a time, on one thread (the jobs' protocol, warm-up
included), in blocks of ``--block`` requests: model A block 1, model B block 1, ..., model A
block 2, ...; the whole pass is repeated ``--repeats`` (>= 3) times with the model order
rotated by one each repeat, so no model is always timed first or last. Before each group it
waits (at most ``--settle`` seconds) for the 1-minute load average to fall to the quiet level
the claims ask for (``xmr.timing.QUIET_LOAD_PER_CPU`` × the CPUs): right after a sweep the
average still counts the training, and a timing then would read "not measured (busy
machine)".

Written back to each timed run (never a new run): metrics ``latency_il_p50_ms``,
``latency_il_p99_ms`` (over every timed request of every repeat), ``latency_il_load_avg`` and
``latency_il_cpu_count`` (the load and CPUs the whole interleaved timing ran under),
``latency_il_repeats``; the tag ``latency_il_group`` (the group's id: runs timed together
share it) and the artifact ``latency_interleaved.parquet`` (``query_id``, ``repeat``,
``latency_ms``: each request's time in each repeat, for a per-request bootstrap).

Runners that cannot be timed here are skipped with the reason: one that times inside its own
worker (PECOS's peer: its ``latency`` is not the harness's protocol) and a cacheable model
missing from the training cache. A runner that is never cached (most-popular completion:
counting is cheaper than loading) is retrained in this process. A group whose timeable runs
all carry its id already is skipped (``--force`` times it again), so a rerun completes only
what is missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments.datacache import config_hash
from experiments.models import QACRunner, Runner, XMRRunner
from experiments.outcome import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from experiments.results import timing_conditions, wait_for_quiet
from xmr._validation import check_int
from xmr.timing import LATENCY_THREADS, pinned_threads

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
log = logging.getLogger(__name__)

MIN_REPEATS = 3  # the floor: one pass can fall on a burst of load
SETTLE_S = 300.0  # the most a group waits for a quiet machine (a training's load to decay)
DEFAULT_BLOCK = 50  # requests per model before the next model's turn
ARTIFACT = "latency_interleaved.parquet"
GROUP_TAG = "latency_il_group"
METRICS = ("latency_il_p50_ms", "latency_il_p99_ms", "latency_il_load_avg",
           "latency_il_cpu_count", "latency_il_repeats")


# ------------------------------------------------------------------------ the timing
def schedule(n_models: int, n_requests: int, *, block: int, repeats: int
             ) -> list[tuple[int, int, int, int]]:
    """The blocks in the order they run, as ``(repeat, model, start, stop)``: per repeat,
    for each block of ``block`` requests ``[start, stop)``, every model in turn; the model
    order is rotated by one per repeat (repeat ``r`` starts with model ``r % n_models``)."""
    check_int("n_models", n_models, minimum=1)
    check_int("n_requests", n_requests, minimum=1)
    check_int("block", block, minimum=1)
    check_int("repeats", repeats, minimum=MIN_REPEATS)
    out = []
    for r in range(repeats):
        order = [(r + i) % n_models for i in range(n_models)]
        for start in range(0, n_requests, block):
            stop = min(start + block, n_requests)
            out += [(r, m, start, stop) for m in order]
    return out


def time_interleaved(calls: Sequence[Callable[[object], object]],
                     requests: Sequence[Sequence], *, block: int = DEFAULT_BLOCK,
                     repeats: int = MIN_REPEATS, n_warmup: int = 0,
                     clock: Callable[[], float] = time.perf_counter) -> np.ndarray:
    """Time ``calls[m](requests[m][i])`` for every model ``m`` and request ``i``, interleaved
    as :func:`schedule` orders them, with every backend on one thread
    (:func:`xmr.timing.pinned_threads`) after ``n_warmup`` untimed requests per model.

    Parameters
    ----------
    calls : sequence of callables
        One single-request callable per model.
    requests : sequence of sequences
        Per model, its requests (the same test requests, in the form that model takes);
        all of one length ``n``.
    block, repeats, n_warmup : int, keyword-only
        Requests per turn (>= 1), passes over every request (>= :data:`MIN_REPEATS`),
        untimed requests per model before the first pass (>= 0).
    clock : callable, keyword-only
        Seconds (``time.perf_counter``; the tests pass a fake one).

    Returns
    -------
    ndarray, (repeats, n_models, n) float64
        Milliseconds of each request of each model in each repeat.
    """
    if len(calls) == 0 or len(calls) != len(requests):
        raise ValueError(f"calls and requests must be non-empty and of one length, got "
                         f"{len(calls)} and {len(requests)}")
    n = len(requests[0])
    if any(len(r) != n for r in requests):
        raise ValueError(f"every model's requests must have one length, got "
                         f"{[len(r) for r in requests]}")
    check_int("n_warmup", n_warmup, minimum=0)
    order = schedule(len(calls), n, block=block, repeats=repeats)
    times = np.empty((repeats, len(calls), n))
    with pinned_threads(LATENCY_THREADS):
        for m, call in enumerate(calls):
            for i in range(n_warmup):
                call(requests[m][i % n])
        for r, m, start, stop in order:
            call, reqs = calls[m], requests[m]
            for i in range(start, stop):
                t0 = clock()
                call(reqs[i])
                times[r, m, i] = clock() - t0
    return times * 1e3


def summary(times_ms: np.ndarray) -> dict[str, float]:
    """One model's ``(repeats, n)`` times → its p50/p99 over every timed request and the
    number of repeats."""
    flat = np.asarray(times_ms, dtype=np.float64).ravel()
    return {"latency_il_p50_ms": float(np.percentile(flat, 50)),
            "latency_il_p99_ms": float(np.percentile(flat, 99)),
            "latency_il_repeats": float(times_ms.shape[0])}


def per_request_frame(times_ms: np.ndarray):
    """One model's ``(repeats, n)`` times as the artifact's table: ``query_id`` (the test
    row, as in ``per_query.parquet``), ``repeat``, ``latency_ms``."""
    import pandas as pd

    repeats, n = times_ms.shape
    return pd.DataFrame({"query_id": np.tile(np.arange(n, dtype=np.int32), repeats),
                         "repeat": np.repeat(np.arange(repeats, dtype=np.int32), n),
                         "latency_ms": np.asarray(times_ms, np.float32).ravel()})


# ------------------------------------------------------------------------ the runs
@dataclass
class Member:
    """One run of a group: its id and name, its resolved spec, and why it is not timed."""

    run_id: str
    name: str
    tags: dict[str, str]
    spec: object = None  # experiments.spec.JobSpec
    skip: str | None = None


@dataclass
class Group:
    """The runs of one (data, seed) of a preset: the runs a claim compares."""

    data: str
    seed: str
    members: list[Member] = field(default_factory=list)

    @property
    def timed(self) -> list[Member]:
        return [m for m in self.members if m.skip is None]

    @property
    def id(self) -> str:
        """Names the set of runs timed together (the tag :data:`GROUP_TAG`)."""
        return config_hash(sorted(m.run_id for m in self.timed))

    def done(self) -> bool:
        return all(m.tags.get(GROUP_TAG) == self.id for m in self.timed)


def finished_runs(client, experiment: str) -> list:
    """The FINISHED grid-point runs of preset ``experiment`` (tag ``experiment``) in every
    MLflow experiment of the store, the latest per grid point (tag ``config_hash``): the
    runs :mod:`analysis.load` selects."""
    from experiments.tracking import _retry

    exp_ids = [e.experiment_id for e in _retry(client.search_experiments)]
    if not exp_ids:
        return []
    runs = _retry(client.search_runs, exp_ids,
                  filter_string=f"tags.experiment = '{experiment}' and "
                                "attributes.status = 'FINISHED'",
                  order_by=["attributes.start_time DESC"], max_results=50_000)
    out, seen = [], set()
    for run in runs:
        tags = run.data.tags
        if tags.get("role") == "sweep":
            continue
        key = tags.get("config_hash") or run.info.run_id
        if key not in seen:
            seen.add(key)
            out.append(run)
    return out


def groups_of(runs: list) -> list[Group]:
    """The runs by (data, seed): the dataset card's hash (the exact data and split the job
    evaluated on), else the data's name; and the seed."""
    groups: dict[tuple[str, str], Group] = {}
    for run in runs:
        p, t = run.data.params, run.data.tags
        key = (p.get("dataset_card_hash") or t.get("data", "?"), p.get("seed", "0"))
        group = groups.setdefault(key, Group(data=t.get("data", key[0]), seed=key[1]))
        group.members.append(Member(run.info.run_id, t.get("mlflow.runName", run.info.run_id),
                                    dict(t)))
    return [groups[k] for k in sorted(groups)]


def run_config(client, run_id: str, tags: dict[str, str]):
    """The run's resolved config (its ``config.yaml`` artifact, else the job folder's), with
    the nodes :func:`experiments.spec.resolve` turns into objects typed again by their
    schemas (a YAML file is plain values): ``eval`` and ``data.options``."""
    from omegaconf import OmegaConf

    from experiments.schema import EvalConfig, FeaturesConfig, QACFeaturesConfig
    from xmr.datasets.registry import get_dataset

    cfg = OmegaConf.create(run_artifact(client, run_id, tags, "config.yaml"))
    cfg.eval = OmegaConf.merge(OmegaConf.structured(EvalConfig), cfg.eval)
    options = OmegaConf.structured(get_dataset(cfg.data.loader).config_class())
    cfg.data.options = OmegaConf.merge(options, cfg.data.options)
    # typed as in a job: a tuned run's search types its feature sets by this node's schema
    features = QACFeaturesConfig if cfg.get("task") == "qac" else FeaturesConfig
    cfg.features = OmegaConf.merge(OmegaConf.structured(features), cfg.features)
    return cfg


def run_artifact(client, run_id: str, tags: dict[str, str], name: str) -> str:
    """The text of the run's artifact ``name``, else of the file in the job's folder."""
    from experiments.tracking import _retry

    with tempfile.TemporaryDirectory() as tmp:
        try:
            return Path(_retry(client.download_artifacts, run_id, name, tmp)).read_text()
        except Exception as exc:  # noqa: BLE001 - an artifact store may lose a file
            folder = tags.get("output_dir")
            if not folder or not (Path(folder) / name).is_file():
                raise FileNotFoundError(f"run {run_id} has no {name} ({exc})") from exc
            return (Path(folder) / name).read_text()


def final_spec(client, run_id: str, tags: dict[str, str], spec):
    """The configuration the run's model was fitted and evaluated at: a tuned run's chosen
    values (its ``tuning.json``: :func:`experiments.tuning.chosen_spec`), else ``spec``."""
    if tags.get("tuned") != "true":
        return spec
    from experiments import tuning

    outcome = json.loads(run_artifact(client, run_id, tags, tuning.TUNING_FILE))
    return tuning.chosen_spec(spec, outcome)


def timed_elsewhere(cls: type[Runner]) -> bool:
    """A runner whose latency is not the harness's protocol (it overrides
    ``XMRRunner.latency``: PECOS's peer times inside its own worker process)."""
    return issubclass(cls, XMRRunner) and cls.latency is not XMRRunner.latency


def model_folder(spec, tags: dict[str, str]) -> Path | None:
    """The run's trained model in the training cache (``<cache_dir>/models/<train_key>``,
    :func:`experiments.training.train`), None when the run has no ``train_key``."""
    key = tags.get("train_key")
    return None if not key else Path(spec.data.cache_dir) / "models" / key


def prepare(client, group: Group) -> None:
    """Resolve every member's config and mark those that cannot be timed here."""
    from experiments.spec import resolve

    for m in group.members:
        try:
            m.spec = final_spec(client, m.run_id, m.tags,
                                resolve(run_config(client, m.run_id, m.tags)))
        except Exception as exc:  # noqa: BLE001 - one bad run does not stop the group
            m.skip = f"its config cannot be rebuilt ({type(exc).__name__}: {exc})"
            continue
        cls = m.spec.runner_cls
        if timed_elsewhere(cls):
            m.skip = (f"{cls.name} times inside its own worker, not in this process; its "
                      "job-time latency stands")
        elif cls.cacheable:
            folder = model_folder(m.spec, m.tags)
            if folder is None or not (folder / "train_meta.json").is_file():
                m.skip = f"its trained model is not in the training cache ({folder})"


def trained_runner(spec, tags: dict[str, str], ds, loaded: dict) -> Runner:
    """The run's trained runner at its threshold: loaded from the training cache, or
    retrained here when its class is never cached (counting, for MPC). ``loaded`` keeps
    each (``train_key``, threshold) once: runs that differ only in a prediction setting
    share one model in memory."""
    key = tags.get("train_key") or spec.config_hash
    if (key, spec.threshold) in loaded:
        return loaded[key, spec.threshold]
    run = loaded.get((key, None))
    if run is None:
        run = spec.runner()
        if run.cacheable:
            run.load(model_folder(spec, tags))
        else:
            run.fit(ds)
        loaded[key, None] = run
    if run.prunable:
        run = run.with_threshold(spec.threshold)
    loaded[key, spec.threshold] = run
    return run


def single_requests(spec, run: Runner, ds, requests: list | None = None
                    ) -> tuple[Callable[[object], object], list]:
    """(single-request callable, the test requests) as the job's latency protocol builds
    them: XMR ``run.one(q, inference)`` over ``run.queries(test, X)`` (text in,
    featurisation included); QAC ``suggester.suggest(prev, prefix)``. ``requests``: those
    of another run of the same trained model (the same requests; not built again)."""
    test, inf = ds.splits["test"], spec.inference
    if isinstance(run, XMRRunner):
        if requests is None:
            requests = run.queries(test, run.features(test))
        return (lambda q: run.one(q, inf)), requests
    if isinstance(run, QACRunner):
        suggester = run.suggester(inf, ds.labels)
        return ((lambda q: suggester.suggest(q[0], q[1])),
                list(zip(test.prev_queries, test.prefixes, strict=True)))
    raise TypeError(f"no single-request protocol for {type(run).__name__} (task "
                    f"{spec.task.name})")


def time_group(client, group: Group, *, repeats: int, block: int,
               max_requests: int | None) -> dict[str, dict[str, float]]:
    """Time the group's timeable runs interleaved and write the results back to each run.
    Returns run id → its metrics."""
    from experiments.job import load_data

    timed = group.timed
    datasets, loaded, built, calls, requests = {}, {}, {}, [], []
    for m in timed:
        data = m.spec.data  # the runs of a group share their data: loaded once
        key = (data.name, data.loader, config_hash(data.options_dict))
        if key not in datasets:
            datasets[key] = load_data(m.spec.data)[0]
        ds = datasets[key]
        trained = m.tags.get("train_key") or m.run_id
        call, reqs = single_requests(m.spec, trained_runner(m.spec, m.tags, ds, loaded), ds,
                                     built.get(trained))
        built[trained] = reqs
        calls.append(call)
        requests.append(reqs)
    n = min(min(len(r) for r in requests),
            *(int(m.spec.eval.latency_max_queries) for m in timed),
            *([max_requests] if max_requests is not None else []))
    n_warmup = max(int(m.spec.eval.latency_warmup) for m in timed)
    with timing_conditions() as cond:
        times = time_interleaved(calls, [r[:n] for r in requests], block=block,
                                 repeats=repeats, n_warmup=n_warmup)
    conditions = {"latency_il_load_avg": cond["latency_load_avg"],
                  "latency_il_cpu_count": cond["cpu_count"]}
    gid, out = group.id, {}
    for i, m in enumerate(timed):
        metrics = summary(times[:, i]) | conditions
        write_back(client, m.run_id, metrics, gid, per_request_frame(times[:, i]))
        out[m.run_id] = metrics
    return out


def write_back(client, run_id: str, metrics: dict[str, float], group_id: str, frame) -> None:
    """The artifact, then the metrics and the group tag (the tag last: it marks the run
    done)."""
    from mlflow.entities import Metric, RunTag

    from experiments.tracking import _retry

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ARTIFACT
        frame.to_parquet(path, index=False)
        _retry(client.log_artifact, run_id, str(path))
    now = int(time.time() * 1000)
    _retry(client.log_batch, run_id,
           metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()
                    if v is not None and not (isinstance(v, float) and math.isnan(v))],
           tags=[RunTag(GROUP_TAG, group_id)])


def run(uri: str, experiment: str, *, repeats: int = MIN_REPEATS, block: int = DEFAULT_BLOCK,
        max_requests: int | None = None, force: bool = False, settle_s: float = SETTLE_S,
        out: Callable[[str], None] = print) -> int:
    """Every group of ``experiment``'s runs in the store ``uri``; returns the exit code
    (1 when a group failed; the others are still timed). Before each group it waits up to
    ``settle_s`` for the machine to be quiet (:func:`experiments.results.wait_for_quiet`)."""
    from experiments.tracking import check_store, client_for, sqlite_path

    check_int("repeats", repeats, minimum=MIN_REPEATS)
    check_int("block", block, minimum=1)
    if max_requests is not None:
        check_int("max_requests", max_requests, minimum=1)
    db = sqlite_path(uri)
    if db is not None and not db.is_file():  # never create a store here
        out(f"interleaved latency: no MLflow store at {db}: nothing to time")
        return EXIT_OK
    check_store(uri)
    client = client_for(uri)
    groups = groups_of(finished_runs(client, experiment))
    if not groups:
        out(f"interleaved latency: no FINISHED runs of experiment {experiment!r} in the store")
        return EXIT_OK
    code = EXIT_OK
    for group in groups:
        what = f"{experiment} data {group.data} seed {group.seed}"
        prepare(client, group)
        for m in group.members:
            if m.skip:
                out(f"  {what}: not timed: {m.name}: {m.skip}")
        if not group.timed:
            continue
        if group.done() and not force:
            out(f"{what}: {len(group.timed)} runs already timed together (group {group.id})")
            continue
        wait_for_quiet(settle_s, out=out)
        try:
            results = time_group(client, group, repeats=repeats, block=block,
                                 max_requests=max_requests)
        except Exception as exc:  # noqa: BLE001 - the other groups still run
            log.exception("interleaved timing of %s failed", what)
            out(f"{what}: FAILED: {type(exc).__name__}: {exc}")
            code = EXIT_FAILED
            continue
        out(f"{what}: {len(results)} runs timed interleaved, {repeats} repeats "
            f"(group {group.id})")
        for m in group.timed:
            r = results[m.run_id]
            out(f"  {m.name}: p50 {r['latency_il_p50_ms']:.3f} ms  "
                f"p99 {r['latency_il_p99_ms']:.3f} ms  (load {r['latency_il_load_avg']:.2f}"
                f" on {r['latency_il_cpu_count']:.0f} CPUs)")
    return code


def main(argv: list[str] | None = None) -> int:
    from experiments.tracking import TrackingError, tracking_uri

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m experiments.latency",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", required=True, metavar="NAME",
                   help="the preset whose runs to time (their tag experiment)")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="MLflow store; default $MLFLOW_TRACKING_URI, else "
                        "sqlite:///<log-dir>/mlflow.db")
    p.add_argument("--log-dir", default="logs")
    p.add_argument("--repeats", type=int, default=MIN_REPEATS,
                   help=f"passes over the requests, model order rotated (>= {MIN_REPEATS})")
    p.add_argument("--block", type=int, default=DEFAULT_BLOCK,
                   help="requests per model per turn")
    p.add_argument("--max-requests", type=int, default=None, metavar="N",
                   help="time at most the first N test requests (default: the runs' "
                        "eval.latency_max_queries)")
    p.add_argument("--force", action="store_true",
                   help="time groups again even when their runs were timed together")
    p.add_argument("--settle", type=float, default=SETTLE_S, metavar="SECONDS",
                   help="wait at most this long before each group for the 1-min load "
                        "average to fall to the quiet level (0: do not wait)")
    args = p.parse_args(argv)
    try:
        return run(tracking_uri(args.tracking_uri, args.log_dir), args.experiment,
                   repeats=args.repeats, block=args.block, max_requests=args.max_requests,
                   force=args.force, settle_s=args.settle)
    except (ValueError, TrackingError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
