"""What the terminal says about a sweep: the swept parameters, and the compact table of
grid points printed when a sweep ends (sorted by the task's primary metric, the best marked).

Reads only the job folders (``config.yaml`` + ``metrics.json``); knows nothing of MLflow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from experiments.tasks import get_task

SHORT = {"recall_at_10": "R@10", "recall_at_100": "R@100", "precision_at_1": "P@1",
         "mrr_at_10": "MRR@10", "bleu": "BLEU", "latency_p50_ms": "p50 ms",
         "latency_p99_ms": "p99 ms", "train_time_s": "train s", "model_bytes": "MB"}
# config groups: a swept `features=all` is the value of `features.name`; the global ones
# (`qac=row7`, `experiment=demo`) set a top-level key
GROUPS = ("data", "features", "indexer", "model", "eval", "logger")
GLOBAL_GROUPS = {"qac": "qac_row", "experiment": "experiment_name"}
BEST = "*"


def swept_keys(hydra_cfg: DictConfig) -> list[str]:
    """The parameters a multirun sweeps: the preset's ``hydra.sweeper.params`` and the
    command-line overrides with several values (``a=1,2``, ``range(…)``), in that order,
    ``hydra.*`` and ``paths.*`` left out."""
    keys: list[str] = []
    params = OmegaConf.select(hydra_cfg, "sweeper.params", default=None) or {}
    keys += [str(k) for k in params]
    task = list(OmegaConf.select(hydra_cfg, "overrides.task", default=None) or [])
    for o in OverridesParser.create().parse_overrides(task):
        if o.is_sweep_override():
            keys.append(o.get_key_element().lstrip("+~"))
    return [k for k in dict.fromkeys(keys) if not k.startswith(("hydra", "paths."))]


def param_key(key: str) -> str:
    """The flat config key (= MLflow param) of a swept key: groups map to their ``.name``."""
    return GLOBAL_GROUPS.get(key) or (f"{key}.name" if key in GROUPS else key)


def _value(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _fmt(name: str, v) -> str:
    """A metric cell (a swept value is shown as given: ``str``)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if name == "model_bytes":
        return f"{v / 2**20:.2f}"
    if name in ("latency_p50_ms", "latency_p99_ms"):
        return f"{v:.3f}"
    if name == "train_time_s":
        return f"{v:.1f}"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def sweep_rows(sweep_dir: Path, keys: Iterable[str]) -> list[dict]:
    """One row per job folder of the sweep: job number, swept values, status, metrics."""
    rows = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json"),
                               key=lambda p: (len(p.parent.name), p.parent.name)):
        job = metrics_file.parent
        metrics = json.loads(metrics_file.read_text())
        cfg_file = job / "config.yaml"
        config = yaml.safe_load(cfg_file.read_text()) if cfg_file.is_file() else {}
        rows.append({"job": job.name, "task": config.get("task", "xmr"),
                     "status": metrics.get("status", "FINISHED"),
                     "point": {k: _value(config, param_key(k)) for k in keys},
                     "metrics": metrics})
    return rows


def format_table(rows: list[dict], keys: list[str]) -> str:
    """The grid points as a Markdown table (pastes into a notebook or README), sorted by the
    task's primary metric, best first and marked ``*``; failed jobs last."""
    if not rows:
        return "(no job wrote a metrics.json)"
    task = get_task(rows[0]["task"])  # a sweep is of one task (the preset's)
    metrics, primary = task.table_metrics, task.headline

    def score(r: dict) -> float:
        v = r["metrics"].get(primary)
        return v if isinstance(v, int | float) and math.isfinite(v) else -math.inf

    ordered = sorted(rows, key=score, reverse=True)
    best = score(ordered[0])
    with_status = any(r["status"] != "FINISHED" for r in rows)
    head = ["", *keys, *(SHORT.get(m, m) for m in metrics)] + (["status"] if with_status else [])
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join([":-:"] + ["---"] * len(keys) + ["---:"] * len(metrics)
                            + (["---"] if with_status else [])) + "|"]
    for r in ordered:
        mark = BEST if best > -math.inf and score(r) == best else ""
        cells = [mark, *("–" if r["point"].get(k) is None else str(r["point"][k]) for k in keys),
                 *(_fmt(m, r["metrics"].get(m)) for m in metrics)]
        if with_status:
            cells.append({"FINISHED": "", "SKIPPED": "skipped (done before)"}.get(
                r["status"], r["status"]))
        lines.append("| " + " | ".join(cells) + " |")
    note = (f"sorted by {SHORT.get(primary, primary)} (higher is better), {BEST} = best; "
            f"MB = model size in MiB")
    return "\n".join([*lines, note])
