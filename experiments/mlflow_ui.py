"""What MLflow's own UI reads, written the way MLflow expects it, so the comparison is one click
away: one experiment per comparison (of the model-training kind, not GenAI), datasets as MLflow
datasets (the UI's Dataset column), MLflow's source tags (entry point, git commit), a run
description naming the grid point, a saved view with the headline metrics as columns, and the
link that opens it.

``python -m experiments.tools.ui`` (``make ui``) prints that link per experiment and starts
the MLflow UI. What the MLflow 3.17 web app reads (from its bundled source, ``mlflow/server/js``):

- ``mlflow.experimentKind`` (experiment tag): ``custom_model_development`` = model training;
  the app also picks its GenAI or machine-learning layout from the ``workflowType`` URL
  parameter (else the browser's last choice, GenAI by default), so the link sets it.
- ``mlflow.sharedViewState.<key>`` (experiment tag): a saved view, ``{"name", "createdAt",
  "updatedAt", "state"}`` with ``state`` the JSON of the runs page's search facets
  (``searchFilter``, ``orderByKey``, ``orderByAsc``, ...) and table state (``selectedColumns``
  as ``metrics.`name```, ``params.`name```, ``attributes.`Dataset```, ...); opened by
  ``?viewStateShareKey=<key>`` and listed under the page's saved views.
- Runs sorted by a metric are listed flat (children not nested under their sweep's parent),
  so the view shows every grid point at once; its filter keeps the grid-point runs only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.entities import Dataset, DatasetInput, InputTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.types import ColSpec, Schema  # noqa: E402
from mlflow.types.schema import Array  # noqa: E402
from mlflow.utils import mlflow_tags  # noqa: E402

from experiments import tracking  # noqa: E402
from experiments.sweep_table import param_key  # noqa: E402
from experiments.tasks import get_task  # noqa: E402
from xmr.datasets.registry import get_dataset  # noqa: E402

KIND_TAG = "mlflow.experimentKind"
KIND = "custom_model_development"  # model training, not "genai_development"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
VIEW_KEY = "headline-metrics"
VIEW_NAME = "Headline metrics (every grid point, best first)"
GRID_POINT_ROLE = "grid_point"  # tags.role of a job's run (a sweep's parent: "sweep")
ENTRY_POINT = "experiments.run"
WIDTHS = {"attributes": 190, "params": 125}  # px per column (metrics: 110): all fit in 1920
DEFAULT_UI = "http://127.0.0.1:5000"

# ----------------------------------------------------------------------- experiments
def ensure_experiment(client: MlflowClient, name: str, log_dir: str, *,
                      preset: str | None = None) -> str:
    """The experiment's id (created under ``log_dir/mlruns`` if new), tagged as a model-training
    experiment with a one-line description."""
    exp_id = tracking._retry(tracking.experiment_id, client, name, log_dir)
    tags = tracking._retry(client.get_experiment, exp_id).tags
    wanted = {KIND_TAG: KIND}
    if mlflow_tags.MLFLOW_RUN_NOTE not in tags:
        wanted[mlflow_tags.MLFLOW_RUN_NOTE] = (
            f"xmr-harness comparison `{preset}`: one run per grid point of "
            f"`python -m {ENTRY_POINT} -m experiment={preset}`, grouped under one parent run "
            f"per sweep. Open the saved view '{VIEW_NAME}' for the metric columns."
            if preset else "xmr-harness runs without a preset.")
    for key, value in wanted.items():
        if tags.get(key) != value:
            tracking._retry(client.set_experiment_tag, exp_id, key, value)
    return exp_id


def view_state(task: str, param_keys: list[str], *, extra_columns: list[str] = ()) -> dict:
    """The runs page's state: grid-point runs only, sorted by the task's primary metric (best
    first, flat), the swept params, Dataset, Source and the headline metrics as columns."""
    columns = ["attributes.`Dataset`", "attributes.`Source`"]
    columns += [f"params.`{param_key(k)}`" for k in param_keys]
    columns += [f"metrics.`{m}`" for m in get_task(task).table_metrics]
    columns += [c for c in extra_columns if c not in columns]
    return {"searchFilter": f"tags.role = '{GRID_POINT_ROLE}'",
            "orderByKey": f"metrics.`{get_task(task).headline}`",
            "orderByAsc": False, "startTime": "ALL", "lifecycleFilter": "Active",
            "modelVersionFilter": "All Runs", "datasetsFilter": [],
            "selectedColumns": list(dict.fromkeys(columns)),
            "columnOrder": list(dict.fromkeys(columns)), "runsHiddenMode": "SHOW_ALL",
            "columnWidths": {c: WIDTHS.get(c.split(".", 1)[0], 110) for c in columns},
            "viewMaximized": False, "runListHidden": False, "groupBy": None}


def ensure_view(client: MlflowClient, exp_id: str, task: str, param_keys: list[str]) -> None:
    """Write (or widen) the experiment's saved view; columns of earlier sweeps are kept."""
    tag = VIEW_TAG_PREFIX + VIEW_KEY
    old = tracking._retry(client.get_experiment, exp_id).tags.get(tag)
    now = int(time.time() * 1000)
    created, previous = now, []
    if old:
        try:
            envelope = json.loads(old)
            created = int(envelope.get("createdAt", now))
            previous = json.loads(envelope["state"]).get("selectedColumns", [])
        except (ValueError, KeyError, TypeError):  # not ours / malformed: rewrite it
            pass
    state = view_state(task, param_keys, extra_columns=previous)
    envelope = {"name": VIEW_NAME, "createdAt": created, "updatedAt": now,
                "state": json.dumps(state)}
    if old and json.loads(old).get("state") == envelope["state"]:
        return
    tracking._retry(client.set_experiment_tag, exp_id, tag, json.dumps(envelope))


def runs_url(exp_id: str, base: str = DEFAULT_UI) -> str:
    """The link that opens the experiment's runs table on the saved view."""
    query = urlencode({"viewStateShareKey": VIEW_KEY, "workflowType": "machine_learning"})
    return f"{base.rstrip('/')}/#/experiments/{exp_id}/runs?{query}"


def compare_url(exp_id: str, run_ids: list[str], base: str = DEFAULT_UI) -> str:
    """MLflow's side-by-side comparison of the given runs."""
    query = urlencode({"runs": json.dumps(run_ids), "experiments": json.dumps([exp_id]),
                       "workflowType": "machine_learning"})
    return f"{base.rstrip('/')}/#/compare-runs?{query}"


# --------------------------------------------------------------------- runs: sources
def source_tags(commit: str) -> dict[str, str]:
    """MLflow's own source tags: the entry point and the git commit of the code that ran."""
    head, _, dirty = commit.partition("-")
    tags = {mlflow_tags.MLFLOW_SOURCE_TYPE: "LOCAL", mlflow_tags.MLFLOW_SOURCE_NAME: ENTRY_POINT}
    if head != "unknown":
        tags[mlflow_tags.MLFLOW_GIT_COMMIT] = head
        tags[mlflow_tags.MLFLOW_GIT_DIRTY] = str(bool(dirty)).lower()
    return tags


# ------------------------------------------------------------------- runs: datasets
def _source(data_dir: str, card: dict) -> tuple[str, str]:
    """(source_type, source JSON): the generator with its seed, or the data folder read."""
    loader = card["data_config"]["loader"]
    options = card["data_config"].get("options", {})
    generator = get_dataset(loader).generator
    if generator is not None:
        if options.get("size") is not None:  # a size preset: the other sizes are unused
            options = {k: options[k] for k in ("size", "seed") if k in options}
        return "code", json.dumps({"tags": {"generator": generator,
                                            "seed": str(options.get("seed")),
                                            "options": json.dumps(options, sort_keys=True)}})
    folder = Path(data_dir).resolve()
    return "local", json.dumps({"uri": folder.as_uri()})


def _schema(task: str) -> str:
    """The MLflow dataset schema of one example of the task (its ``dataset_columns``)."""
    cols = [ColSpec(Array(kind[:-2]) if kind.endswith("[]") else kind, name)
            for kind, name in get_task(task).dataset_columns]
    return json.dumps({"mlflow_colspec": Schema(cols).to_dict()})


def dataset_inputs(data_dir: str, card: dict, card_hash: str) -> list[DatasetInput]:
    """The run's training and test data as MLflow datasets: name ``<data>[-<size>]-<split>``,
    the dataset card's hash as digest, the source, a schema and a profile with the sizes."""
    source_type, source = _source(data_dir, card)
    size = card["data_config"].get("options", {}).get("size")
    base = card["data_config"]["name"]
    base += f"-{size}" if size and str(size) not in base else ""  # not synthetic_tiny-tiny
    out = []
    for split in ("train", "test"):
        if split not in card["splits"]:
            continue
        s = card["splits"][split]
        profile = {"rows": s["rows"], "labels": card["n_labels"],
                   "rows_all_splits": card["rows_total"], "task": card["task"]}
        for key in ("positives", "rows_without_labels", "share_positives_unseen_in_train",
                    "empty_previous_query"):
            if key in s:
                profile[key] = s[key]
        if card.get("n_features"):
            profile["features"] = card["n_features"]
        ds = Dataset(name=f"{base}-{split}", digest=card_hash, source_type=source_type,
                     source=source, schema=_schema(card["task"]), profile=json.dumps(profile))
        out.append(DatasetInput(ds, tags=[InputTag(mlflow_tags.MLFLOW_DATASET_CONTEXT,
                                                   "training" if split == "train" else "test")]))
    return out


# ------------------------------------------------------------- runs: system metrics
def start_system_metrics(run_id: str, uri: str, interval_s: float):
    """MLflow's own system metrics (CPU, memory, disk, network as ``system/*``) sampled every
    ``interval_s`` seconds into the run until ``.finish()``; needs psutil."""
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
    except ImportError as exc:  # psutil missing
        raise RuntimeError(f"logger.system_metrics=true needs psutil ({exc}): pip install "
                           "psutil, or set logger.system_metrics=false") from exc
    monitor = SystemMetricsMonitor(run_id, sampling_interval=interval_s, tracking_uri=uri)
    monitor.start()
    return monitor
