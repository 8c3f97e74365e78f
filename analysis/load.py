"""Runs → pandas: read the harness's MLflow runs into one tidy DataFrame, one row per run.

Runs are read from every MLflow experiment of the store: the harness logs one experiment per
comparison (the preset's name: ``demo``, ``product_search``, ``qac_table2``, ...), older stores
hold them all in one experiment ``xmr-harness``; either way ``--experiment NAME`` selects a
preset by the runs' own ``experiment_name`` param, and ``--mlflow-experiment`` reads one MLflow
experiment only.

Nothing here computes a metric: every number comes from what the job logged. The frame keeps
the FINISHED non-parent runs (a sweep's parent, ``tags.role = sweep``, is dropped; a single
``python -m experiments.run`` without ``-m`` has no parent and is kept) and, when several runs
share a grid point (the harness's ``config_hash`` tag), only the latest one.

Columns: ``run_id, start_time, experiment, mlflow_experiment, sweep_id, task, data, dataset,
model, model_kind, features, indexer, threshold, beam_size, seed, git_commit, artifact_uri,
latency_il_group`` + the metrics under their own names (``recall_at_10``, ``latency_p50_ms``,
…, ``latency_load_avg``, ``cpu_count``, ``latency_il_p50_ms``, …) + every param as
``params.<dotted key>``. ``git_commit``
is the ``git_commit`` param (``<sha>[-dirty]``), else MLflow's git source tags;
``model_kind`` the run's ``model_kind`` tag (``xmr``, ``baseline``, ``neural``).

The same frame comes from a results bundle (:mod:`analysis.bundle`): :func:`runs_from_raw`
turns either source's raw runs into it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

log = logging.getLogger(__name__)

DEFAULT_LOG_DIR = "logs"  # conf/paths/default.yaml: log_dir = ${paths.root_dir}/logs
LEGACY_MLFLOW_EXPERIMENT = "xmr-harness"  # older stores: every preset in this one experiment
SMOKE_CMD = "python -m experiments.run -m experiment=smoke"
DEMO_CMD = "make demo"

# the metrics the harness logs (the fixed names of the README + extras it writes)
METRICS = ("precision_at_1", "precision_at_5", "recall_at_10", "recall_at_100", "ndcg_at_10",
           "mrr_at_10", "bleu", "train_time_s", "latency_p50_ms", "latency_p99_ms",
           "latency_mean_ms", "throughput_qps", "model_nnz", "model_bytes",
           "latency_load_avg", "cpu_count",  # the machine's load while timing, its CPUs
           # the interleaved timing (experiments/latency.py): the compared models in one
           # process, round-robin, with the load and CPUs it ran under
           "latency_il_p50_ms", "latency_il_p99_ms", "latency_il_load_avg",
           "latency_il_cpu_count", "latency_il_repeats",
           # convergence of models that early-stop (experiments/models.py)
           "best_epoch", "epochs_run", "epochs_cap_hit")
# short name → param key (conf/ groups); absent params become NaN / None
PARAM_COLUMNS = {"experiment": "experiment_name", "task": "task", "data": "data.name",
                 "model": "model.name", "features": "features.name",
                 "indexer": "indexer.name", "threshold": "model.threshold",
                 "beam_size": "eval.beam_size", "seed": "seed", "git_commit": "git_commit"}
NUMERIC_PARAMS = ("threshold", "beam_size", "seed")
PER_QUERY = "per_query.parquet"  # each run's per-test-query metrics (experiments/job.py)
BUNDLE_PER_QUERY = "per_query"  # a results bundle's folder of per-query tables (bundle.py)
BUNDLE_RUNS = "runs.parquet"  # a results bundle's table of runs (bundle.py)
# each request's time in each repeat of the interleaved timing (experiments/latency.py)
INTERLEAVED = "latency_interleaved.parquet"
BUNDLE_INTERLEAVED = "latency_interleaved"  # ... their folder in a results bundle
# a run's tables, by artifact name: the bundle's folder for them
RUN_TABLES = {PER_QUERY: BUNDLE_PER_QUERY, INTERLEAVED: BUNDLE_INTERLEAVED}
DATASETS = "inputs.datasets"  # raw column: the run's dataset inputs with their digests
# params that never distinguish two grid points (where things go, versions, provenance)
NON_GRID_PREFIXES = ("params.logger.", "params.paths.", "params.version.", "params.git_commit",
                     "params.dataset_card_hash")


class NoRunsError(RuntimeError):
    """The store has no usable run; the message says what to run."""


def resolve_tracking_uri(uri: str | None = None, *, log_dir: str | os.PathLike | None = None,
                         ) -> str:
    """``uri``, else $MLFLOW_TRACKING_URI, else ``sqlite:///<log_dir>/mlflow.db`` (as the
    harness's ``experiments.tracking.tracking_uri``; ``log_dir`` defaults to ./logs)."""
    if uri:
        return uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    path = Path(log_dir if log_dir is not None else DEFAULT_LOG_DIR).resolve()
    return f"sqlite:///{path / 'mlflow.db'}"


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URI (``sqlite:////abs`` or
    ``sqlite:///rel``); None for in-memory databases and other schemes."""
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///"):].split("?", 1)[0])
    return None if path in ("", ":memory:") else Path(path)


def _local_path(uri: str) -> Path | None:
    """The folder of a file store (``file:`` URI or a plain path), None otherwise."""
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    if "://" not in uri and not uri.startswith(("sqlite:", "databricks")):
        return Path(uri)
    return None


def _missing_store_message(uri: str, where: Path) -> str:
    return (f"no MLflow store at {where} ({uri}): run `{SMOKE_CMD}` (or `{DEMO_CMD}`) first, "
            "or point --tracking-uri / $MLFLOW_TRACKING_URI at your store")


def search_runs(tracking_uri: str, *, mlflow_experiment: str | None = None) -> pd.DataFrame:
    """All runs of the store's experiments (or of the one named ``mlflow_experiment``) as
    ``mlflow.search_runs`` returns them (raw columns ``params.*``, ``metrics.*``, ``tags.*``)
    plus ``mlflow_experiment`` (the experiment's name). Never creates a store: a missing SQLite
    file or experiment raises :class:`NoRunsError` with what to run."""
    db = _sqlite_path(tracking_uri)
    if db is not None and not db.is_file():
        raise NoRunsError(_missing_store_message(tracking_uri, db))
    folder = _local_path(tracking_uri)
    if folder is not None and not folder.is_dir():
        raise NoRunsError(_missing_store_message(tracking_uri, folder))

    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from experiments.tracking import TrackingError, check_store

    try:  # a server that does not answer, a SQLite file of something else: never written
        check_store(tracking_uri)
    except TrackingError as exc:
        raise NoRunsError(str(exc)) from exc
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        experiments = client.search_experiments()
        if mlflow_experiment is not None:
            experiments = [e for e in experiments if e.name == mlflow_experiment]
            if not experiments:
                names = sorted(e.name for e in client.search_experiments())
                raise NoRunsError(
                    f"no MLflow experiment {mlflow_experiment!r} in {tracking_uri} "
                    f"(experiments there: {', '.join(names) or 'none'}): run `{SMOKE_CMD}` "
                    f"(or `{DEMO_CMD}`) first, or pass another --mlflow-experiment")
        raw = _runs_frame(client, {e.experiment_id: e.name for e in experiments})
    except MlflowException as exc:
        raise NoRunsError(f"cannot read the MLflow store {tracking_uri}: "
                          f"{str(exc).splitlines()[0]}") from exc
    return raw


def _runs_frame(client, experiments: dict[str, str]) -> pd.DataFrame:
    """Every run of the experiments (id → name), one row each, with the columns
    ``mlflow.search_runs`` gives (without touching the global tracking URI)."""
    rows, token = [], None
    while experiments:
        page = client.search_runs(list(experiments), max_results=1000, page_token=token)
        for run in page:
            info, data = run.info, run.data
            rows.append({"run_id": info.run_id, "experiment_id": info.experiment_id,
                         "mlflow_experiment": experiments.get(info.experiment_id),
                         "status": info.status, "artifact_uri": info.artifact_uri,
                         "start_time": pd.to_datetime(info.start_time, unit="ms", utc=True),
                         "end_time": pd.to_datetime(info.end_time, unit="ms", utc=True),
                         **{f"metrics.{k}": v for k, v in data.metrics.items()},
                         **{f"params.{k}": v for k, v in data.params.items()},
                         **{f"tags.{k}": v for k, v in data.tags.items()},
                         DATASETS: _datasets(run)})
        token = page.token
        if not token:
            break
    return pd.DataFrame(rows)


def _datasets(run) -> str | None:
    """The run's MLflow dataset inputs as ``name:digest[:context]``, ';'-joined."""
    inputs = getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []
    out = []
    for d in inputs:
        context = [t.value for t in d.tags if t.key == "mlflow.data.context"]
        out.append(f"{d.dataset.name}:{d.dataset.digest}" + (f":{context[0]}" if context
                                                            else ""))
    return ";".join(sorted(out)) or None


def _col(raw: pd.DataFrame, name: str) -> pd.Series:
    return raw[name] if name in raw.columns else pd.Series([None] * len(raw), index=raw.index,
                                                           dtype=object)


def _none(value):
    """MLflow logs Python None as the string 'None'."""
    return None if value is None or value in ("None", "null", "") or (
        isinstance(value, float) and np.isnan(value)) else value


def dataset_label(name, size) -> str:
    """``synthetic_products (tiny)``: the data config's name, plus its size option if any."""
    name, size = _none(name), _none(size)
    if name is None:
        return "unknown data"
    return f"{name} ({size})" if size is not None else str(name)


def tidy(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw ``search_runs`` frame → the tidy frame described in the module docstring, all
    statuses and roles kept (see :func:`select`)."""
    df = pd.DataFrame(index=raw.index)
    df["run_id"] = _col(raw, "run_id")
    df["status"] = _col(raw, "status")
    df["start_time"] = pd.to_datetime(_col(raw, "start_time"), utc=True)
    df["mlflow_experiment"] = _col(raw, "mlflow_experiment")
    df["run_name"] = _col(raw, "tags.mlflow.runName")
    df["parent_run_id"] = _col(raw, "tags.mlflow.parentRunId").map(_none)
    df["role"] = _col(raw, "tags.role").map(_none)
    df["sweep_id"] = _col(raw, "tags.sweep_id").map(_none)
    df["config_hash"] = _col(raw, "tags.config_hash").map(_none)
    df["model_kind"] = _col(raw, "tags.model_kind").map(_none)  # xmr | baseline | neural
    # runs timed together by experiments/latency.py share this id
    df["latency_il_group"] = _col(raw, "tags.latency_il_group").map(_none)
    df["artifact_uri"] = _col(raw, "artifact_uri")
    for short, key in PARAM_COLUMNS.items():
        values = _col(raw, f"params.{key}").map(_none)
        if short == "experiment":  # the job's tag says the same; params are missing on FAILED
            values = values.fillna(_col(raw, "tags.experiment").map(_none))
        if short == "task":
            values = values.fillna(_col(raw, "tags.task").map(_none))
        df[short] = values
    # the code version: params.git_commit ("<sha>[-dirty]"), else MLflow's source tags
    tag_commit = _col(raw, "tags.mlflow.source.git.commit").map(_none)
    dirty = _col(raw, "tags.mlflow.source.git.dirty").map(lambda v: str(v).lower() == "true")
    df["git_commit"] = df["git_commit"].fillna(
        tag_commit.where(~dirty, tag_commit.astype(str) + "-dirty").where(tag_commit.notna()))
    for short in NUMERIC_PARAMS:
        df[short] = pd.to_numeric(df[short], errors="coerce")
    df["beam_size"] = df["beam_size"].round().astype("Int64")  # nullable: QAC/MPC have none
    df["seed"] = df["seed"].fillna(0).round().astype("int64")  # the harness's default seed
    df["dataset"] = [dataset_label(n, s) for n, s in
                     zip(df["data"], _col(raw, "params.data.options.size"))]
    for m in METRICS:
        df[m] = pd.to_numeric(_col(raw, f"metrics.{m}"), errors="coerce")
    params = raw[[c for c in raw.columns if c.startswith("params.")]]
    return pd.concat([df, params], axis=1)


def grid_key(df: pd.DataFrame) -> pd.Series:
    """The grid point of each run: the harness's ``config_hash`` tag, else its grid params."""
    grid_cols = [c for c in df.columns if c.startswith("params.")
                 and not c.startswith(NON_GRID_PREFIXES)]
    if not grid_cols:
        return df["config_hash"].fillna(df["run_id"])
    fallback = df[grid_cols].apply(lambda row: "|".join(map(str, row)), axis=1)
    return df["config_hash"].fillna(fallback)


def select(df: pd.DataFrame, *, experiment: str | None = None) -> pd.DataFrame:
    """FINISHED runs that are not sweep parents, optionally of one preset
    (``experiment_name``), the latest run per grid point, newest first."""
    keep = (df["status"] == "FINISHED") & (df["role"] != "sweep")
    if experiment is not None:
        keep &= df["experiment"] == experiment
    out = df[keep].sort_values("start_time", ascending=False)
    out = out[~grid_key(out).duplicated(keep="first")]
    return out.reset_index(drop=True)


def load_runs(tracking_uri: str | None = None, *, experiment: str | None = None,
              mlflow_experiment: str | None = None) -> pd.DataFrame:
    """The runs to analyse (see :func:`select`) from ``tracking_uri`` (resolved by
    :func:`resolve_tracking_uri`), from every MLflow experiment of the store unless
    ``mlflow_experiment`` names one. Raises :class:`NoRunsError` saying what to run when there
    are none."""
    uri = resolve_tracking_uri(tracking_uri)
    raw = search_runs(uri, mlflow_experiment=mlflow_experiment)
    if raw.empty:
        where = (f"MLflow experiment {mlflow_experiment!r} of {uri}" if mlflow_experiment
                 else f"any MLflow experiment of {uri}")
        raise NoRunsError(f"no runs in {where}: run `{SMOKE_CMD}` (or `{DEMO_CMD}`) first")
    runs = runs_from_raw(raw, uri, experiment=experiment)
    runs.attrs["tracking_uri"] = uri
    return runs


def runs_from_raw(raw: pd.DataFrame, where: str, *, experiment: str | None = None
                  ) -> pd.DataFrame:
    """:func:`tidy` + :func:`select` of a raw runs frame (from a store, or a results
    bundle's ``runs.parquet``); ``where`` names the source in the errors."""
    uri = where
    df = tidy(raw)
    runs = select(df, experiment=experiment)
    if runs.empty:
        finished = select(df)
        presets = sorted(p for p in finished["experiment"].dropna().unique())
        if experiment is not None and presets:
            raise NoRunsError(f"no FINISHED runs of experiment {experiment!r} in {uri} "
                              f"(presets with runs: {', '.join(presets)}): run "
                              f"`python -m experiments.run -m experiment={experiment}`")
        raise NoRunsError(f"no FINISHED runs in {uri} ({len(df)} runs, none FINISHED outside "
                          f"sweep parents): run `{SMOKE_CMD}` (or `{DEMO_CMD}`) first")
    return runs


def load_artifact_json(runs: pd.DataFrame, run_id: str, name: str):
    """A run's JSON artifact (e.g. ``slices.json``), or None when the run has none."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=runs.attrs.get("tracking_uri") or resolve_tracking_uri())
    try:
        if name not in {a.path for a in client.list_artifacts(run_id)}:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, name, tmp)
            return json.loads(Path(path).read_text())
    except (MlflowException, OSError, json.JSONDecodeError) as exc:
        log.warning("could not read %s of run %s: %s", name, run_id, exc)
        return None


_TABLE_CACHE: dict[tuple[str, str, str], pd.DataFrame | None] = {}


def load_run_table(runs: pd.DataFrame, run_id: str, name: str) -> pd.DataFrame | None:
    """A run's parquet artifact ``name`` (one of :data:`RUN_TABLES`), from the store or from
    the results bundle the runs were read from (``<folder>/<run id>.parquet``); None when
    the run has none. Cached: a FINISHED run's artifacts never change (except that
    ``python -m experiments.latency`` may add its table later: its absence is not cached)."""
    if name not in RUN_TABLES:
        raise ValueError(f"name must be one of {sorted(RUN_TABLES)}, got {name!r}")
    if runs.attrs.get("bundle"):
        path = Path(runs.attrs["bundle"]) / RUN_TABLES[name] / f"{run_id}.parquet"
        return pd.read_parquet(path) if path.is_file() else None
    uri = runs.attrs.get("tracking_uri") or resolve_tracking_uri()
    key = (uri, run_id, name)
    if key in _TABLE_CACHE:
        return _TABLE_CACHE[key]
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    frame = None
    try:
        if name in {a.path for a in client.list_artifacts(run_id)}:
            with tempfile.TemporaryDirectory() as tmp:
                frame = pd.read_parquet(client.download_artifacts(run_id, name, tmp))
    except (MlflowException, OSError, ValueError) as exc:
        log.warning("could not read %s of run %s: %s", name, run_id, exc)
    if frame is not None or name == PER_QUERY:  # an interleaved timing may come later
        _TABLE_CACHE[key] = frame
    return frame


def load_per_query(runs: pd.DataFrame, run_id: str) -> pd.DataFrame | None:
    """A run's ``per_query.parquet`` (one row per test query: ``query_id`` and the per-query
    metrics), or None when the run has none (runs logged before it existed)."""
    return load_run_table(runs, run_id, PER_QUERY)


def load_interleaved(runs: pd.DataFrame, run_id: str) -> pd.DataFrame | None:
    """A run's ``latency_interleaved.parquet`` (``query_id``, ``repeat``, ``latency_ms``:
    each test request's time in each repeat of the interleaved timing), or None when the
    run was not timed interleaved (``python -m experiments.latency``)."""
    return load_run_table(runs, run_id, INTERLEAVED)


def short_commit(commit) -> str:
    """``6b2d08a4…-dirty`` → ``6b2d08a-dirty``."""
    commit = _none(commit)
    if commit is None:
        return "unknown"
    head, _, dirty = str(commit).partition("-")
    return head[:7] + (f"-{dirty}" if dirty else "")


class MixedCodeError(ValueError):
    """Runs from more than one code version, or from a dirty tree."""


def code_version(runs: pd.DataFrame, *, allow_mixed: bool = False) -> str:
    """The one library commit the runs were made at (``git_commit``: the full sha). Raises
    :class:`MixedCodeError` naming the commits when there are several, or one is dirty or
    unknown — unless ``allow_mixed``, which returns them all (';'-joined, most runs
    first)."""
    commits = runs["git_commit"].map(_none).fillna("unknown") if "git_commit" in runs.columns \
        else pd.Series(["unknown"] * len(runs), dtype=object)
    counts = commits.value_counts()
    if counts.empty:  # no runs: nothing mixed
        return ""
    bad = [c for c in counts.index if c == "unknown" or str(c).endswith("-dirty")]
    if allow_mixed or (len(counts) == 1 and not bad):
        return ";".join(counts.index)
    listed = ", ".join(f"{short_commit(c)} ({n} runs)" for c, n in counts.items())
    why = "several commits" if len(counts) > 1 else "a dirty tree or an unknown commit"
    raise MixedCodeError(f"the runs come from {why}: {listed}. Rerun them at one clean "
                         "commit, or pass --allow-mixed to use them anyway")


def describe(runs: pd.DataFrame) -> dict[str, object]:
    """What a figure's footnote says: datasets, presets, number of runs, git commits."""
    commits = runs["git_commit"].map(short_commit).value_counts()
    return {"datasets": sorted(runs["dataset"].dropna().unique()),
            "experiments": sorted(runs["experiment"].dropna().unique()),
            "n_runs": int(len(runs)),
            "commits": list(commits.index)}


def load_bundle_runs(bundle: Path, *, experiment: str | None = None) -> pd.DataFrame:
    """The runs of a results bundle (``python -m analysis.bundle export``) as
    :func:`load_runs` gives them from the store (their per-query tables read from the
    bundle)."""
    path = Path(bundle) / BUNDLE_RUNS
    if not path.is_file():
        raise NoRunsError(f"no {BUNDLE_RUNS} in the bundle {bundle}: write one with "
                          "`python -m analysis.bundle export --out DIR`")
    runs = runs_from_raw(pd.read_parquet(path), f"the bundle {bundle}", experiment=experiment)
    runs.attrs["bundle"] = str(Path(bundle))
    return runs
