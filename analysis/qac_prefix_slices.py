"""Paper 2's slice by prefix length: MRR@10 against the number of typed characters, one curve
per indexer (its best configuration by overall MRR@10), from each run's ``slices.json``
artifact: ``{"prefix_length": {"1": mrr, ..., ">=10": mrr}}``, or as ``xmr.qac.metrics.
qac_slices`` writes it, ``{"prefix_length": {"1": {"n": rows, "mrr_at_10": mrr, "bleu": b},
..., "10+": {...}}}``.

    python -m analysis.qac_prefix_slices [--experiment qac_table2] [--out DIR]
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from analysis import load, style
from analysis.common import QAC_CMD, Result, run_builders, write_points
from analysis.qac import config_labels, indexer_labels, qac_runs
from analysis.seeds import all_run_ids, over_seeds

NAME = "qac_prefix_slices"
ARTIFACT = "slices.json"
SLICE = "prefix_length"
CAPTION = ("MRR@10 by prefix length (characters typed) for each indexer — per indexer the "
           "configuration with the best overall MRR@10 (mean over seeds) — and the MPC "
           "baseline (dashed); one panel per dataset.")


def _slice_order(key: str) -> float:
    """'1' < '2' < … < '9' < '10' < '>=10' / '10+' (an open bucket sorts after its bound)."""
    key = str(key).strip()
    m = re.search(r"\d+", key)
    base = float(m.group()) if m else float("inf")
    return base + (0.5 if key.startswith(">") or key.endswith("+") else 0.0)


def _mrr(value) -> tuple[float, float]:
    """(MRR@10, rows) of one bucket: a bare number, or a dict with ``mrr_at_10`` (``n``)."""
    if isinstance(value, dict):
        key = "mrr_at_10" if "mrr_at_10" in value else next(
            (k for k in value if str(k).startswith("mrr_at_")), None)
        return (float(value[key]) if key else float("nan"),
                float(value.get("n", float("nan"))))
    return float(value), float("nan")


def _bucket(key) -> str:
    """One spelling for the open last bucket: '>=10' → '10+' (as qac_slices writes it)."""
    return re.sub(r"^>=\s*(\d+)$", r"\1+", str(key).strip())


def _tick(key: str) -> str:
    return re.sub(r"^(\d+)\+$", r"≥\1", key)


def _best_slices(runs: pd.DataFrame, group: pd.DataFrame) -> tuple[str, list[dict]]:
    """(configuration, its per-seed slice rows): the group's configuration with the best mean
    MRR@10 over seeds among those that logged slices."""
    configs = group.groupby("configuration")["mrr_at_10"].mean().sort_values(ascending=False)
    for config in configs.index:
        per_seed = []
        for _, run in group[group["configuration"] == config].drop_duplicates(
                "seed").iterrows():
            slices = load.load_artifact_json(runs, run["run_id"], ARTIFACT)
            if not isinstance(slices, dict) or not isinstance(slices.get(SLICE), dict):
                continue
            for key, value in slices[SLICE].items():
                mrr, n = _mrr(value)
                per_seed.append({"prefix_length": _bucket(key), "mrr_at_10": mrr,
                                 "n_rows": n, "seed": run["seed"],
                                 "dataset": run["dataset"], "run_id": run["run_id"]})
        if per_seed:
            return config, per_seed
    return "", []


def points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, indexer, prefix-length bucket): MRR@10 of the indexer's
    configuration with the best mean MRR@10 over seeds on that dataset, from each seed's
    slices.json — the mean over seeds, ``mrr_at_10_std`` and ``n_seeds``. An experiment
    that ran on several datasets (qac_comparison: AOL and the synthetic logs) gets each
    dataset's own best configuration and curve."""
    qac = qac_runs(runs)
    qac = qac.assign(indexer_label=indexer_labels(qac), configuration=config_labels(qac))
    rows = []
    for (dataset, label), group in qac.groupby(["dataset", "indexer_label"], sort=True):
        config, per_seed = _best_slices(runs, group)
        if not per_seed:
            continue
        seeds = over_seeds(pd.DataFrame(per_seed), ["prefix_length", "dataset"],
                           ["mrr_at_10", "n_rows"])
        rows += [{"indexer": label, "configuration": config, **r}
                 for r in seeds.to_dict("records")]
    return pd.DataFrame(rows, columns=["indexer", "configuration", "prefix_length",
                                       "mrr_at_10", "mrr_at_10_std", "n_rows", "n_seeds",
                                       "dataset", "run_id", "run_ids"])


def build(runs: pd.DataFrame, out: Path) -> Result:
    if qac_runs(runs).empty:
        return Result(NAME, missing=f"no QAC runs: run `{QAC_CMD}`")
    pts = points(runs)
    if pts.empty:
        return Result(NAME, missing=f"no QAC run has a {ARTIFACT} artifact (written by the QAC "
                                    f"jobs) — run `{QAC_CMD}`")
    buckets = sorted(pts["prefix_length"].unique(), key=_slice_order)
    pos = {b: i for i, b in enumerate(buckets)}
    datasets = sorted(pts["dataset"].unique())
    labels = sorted(pts["indexer"].unique(), key=lambda lab: (lab == "MPC", lab))
    with style.context():
        fig, axes = style.figure(len(datasets), panel_height=2.4)
        for ax, dataset in zip(axes, datasets):  # one panel per dataset
            on = pts[pts["dataset"] == dataset]
            for i, label in enumerate(labels):  # same colour per indexer; MPC dashed grey
                curve = on[on["indexer"] == label].sort_values(
                    "prefix_length", key=lambda c: c.map(_slice_order))
                if curve.empty:
                    continue
                mpc = label == "MPC"
                style.errorbar(ax, curve["prefix_length"].map(pos), curve["mrr_at_10"],
                               yerr=curve["mrr_at_10_std"],
                               marker="" if mpc else style.MARKERS[i % len(style.MARKERS)],
                               ls="--" if mpc else "-", color="0.4" if mpc else f"C{i}",
                               label=label if ax is axes[0] else None)
            ax.set_xticks(range(len(buckets)))
            ax.set_xticklabels([_tick(b) for b in buckets])
            ax.set_xlabel("prefix length (characters)")
            ax.set_ylim(bottom=0)
            if len(datasets) > 1:
                ax.set_title(str(dataset))
        axes[0].set_ylabel("MRR@10")
        fig.legend(loc="outside lower center", ncol=min(3, pts["indexer"].nunique()),
                   title="indexer")
        spread = style.spread_text(pts["n_seeds"])
        style.add_footnote(fig, runs[runs["run_id"].isin(all_run_ids(pts))], spread)
        files = style.save(fig, out, NAME)
    files.append(write_points(pts, out, NAME))
    return Result(NAME, files=files, caption=f"{CAPTION} {spread[0].upper()}{spread[1:]}.")


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.qac_prefix_slices")


if __name__ == "__main__":
    raise SystemExit(main())
