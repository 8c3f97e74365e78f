"""Paper 1's speed/accuracy trade-off: recall@10 against p50 per-query latency across beam
widths, one curve per pruning threshold, the Pareto front marked; one panel per
(preset, dataset, model, feature set) that has several beam widths.

    python -m analysis.recall_vs_latency [--experiment product_search] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import style
from analysis.common import PRODUCT_SEARCH_CMD, Result, run_builders, write_points, xmr_runs
from analysis.seeds import all_run_ids, logged_query_spread, over_seeds

NAME = "recall_vs_latency"
PANEL_COLS = ["experiment", "dataset", "model", "features"]
CAPTION = ("Recall@10 against median (p50) per-query latency — one query at a time, one "
           "thread, featurisation included — across beam widths b (labelled on the least "
           "pruned curve), one curve per pruning threshold; dashed black: the Pareto front "
           "(no other run of the panel is both faster and more accurate).")


def pareto_front(latency, recall) -> np.ndarray:
    """Boolean mask of the points no other point dominates (latency ≤ and recall ≥, one of
    them strictly): lower latency and higher recall are better."""
    lat = np.asarray(latency, dtype=float)
    rec = np.asarray(recall, dtype=float)
    order = np.lexsort((-rec, lat))  # by latency, ties: best recall first
    mask = np.zeros(len(lat), dtype=bool)
    best = -np.inf
    for i in order:
        if rec[i] > best:
            mask[i] = True
            best = rec[i]
    return mask


def points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (panel, threshold, beam): recall and latency, mean and standard deviation
    over seeds (``*_std``, ``n_seeds``); the panels with at least two beam widths only.
    ``pareto`` marks the panel's front (of the means)."""
    df = xmr_runs(runs).dropna(subset=["beam_size", "threshold", "recall_at_10",
                                       "latency_p50_ms"])
    df = over_seeds(df, PANEL_COLS + ["threshold", "beam_size"],
                    ["recall_at_10", "latency_p50_ms", "latency_p99_ms"])
    keep = df.groupby(PANEL_COLS, dropna=False)["beam_size"].transform("nunique") >= 2
    df = df[keep].copy()
    df["pareto"] = False
    for _, idx in df.groupby(PANEL_COLS, dropna=False).groups.items():
        df.loc[idx, "pareto"] = pareto_front(df.loc[idx, "latency_p50_ms"],
                                             df.loc[idx, "recall_at_10"])
    cols = PANEL_COLS + ["threshold", "beam_size", "recall_at_10", "recall_at_10_std",
                         "latency_p50_ms", "latency_p50_ms_std", "latency_p99_ms",
                         "latency_p99_ms_std", "n_seeds", "pareto", "run_id", "run_ids"]
    return df.sort_values(PANEL_COLS + ["threshold", "beam_size"])[cols].reset_index(drop=True)


def _panel_title(key: dict, varying: list[str]) -> str:
    parts = []
    for col in varying:
        value = key[col]
        parts.append(style.feature_label(value) if col == "features" else str(value))
    return "\n".join(parts) if parts else style.feature_label(key["features"])


def build(runs: pd.DataFrame, out: Path) -> Result:
    pts = points(runs)
    # one-seed points: ± the standard error over test queries instead of no bar
    pts, query_se = logged_query_spread(pts, runs, ["recall_at_10", "latency_p50_ms"])
    if pts.empty:
        return Result(NAME, missing=f"no runs with several beam widths — run "
                                    f"`{PRODUCT_SEARCH_CMD}`")
    order = style.feature_order(pts["features"])
    panels = sorted(pts.groupby(PANEL_COLS, dropna=False, sort=False),
                    key=lambda kv: (str(kv[0][:3]), order.index(kv[0][3])))
    varying = [c for c in PANEL_COLS if pts[c].nunique(dropna=False) > 1]
    colors = style.threshold_colors(pts["threshold"])
    with style.context():
        one_dataset = pts["dataset"].nunique() == 1  # then panels share their scales
        fig, axes = style.figure(len(panels), max_cols=2, panel_height=2.3,
                                 sharex=one_dataset, sharey=one_dataset)
        for ax, (key, df) in zip(axes, panels):
            key = dict(zip(PANEL_COLS, key))
            least_pruned = df["threshold"].min()
            for t, curve in df.groupby("threshold"):
                curve = curve.sort_values("beam_size")
                style.errorbar(ax, curve["latency_p50_ms"], curve["recall_at_10"],
                               xerr=curve["latency_p50_ms_std"], yerr=curve["recall_at_10_std"],
                               marker="o", color=colors[t], label=style.fmt_threshold(t),
                               zorder=3)
                if t == least_pruned:
                    for x, y, b in zip(curve["latency_p50_ms"], curve["recall_at_10"],
                                       curve["beam_size"]):
                        ax.annotate(f"b={int(b)}", (x, y), textcoords="offset points",
                                    xytext=(-3, 4), ha="right", va="bottom", fontsize=5.5,
                                    color="0.25")
            front = df[df["pareto"]].sort_values("latency_p50_ms")
            ax.plot(front["latency_p50_ms"], front["recall_at_10"], ls="--", lw=0.8,
                    color=style.PARETO_COLOR, drawstyle="steps-post", zorder=2,
                    label="Pareto front")
            ax.scatter(front["latency_p50_ms"], front["recall_at_10"], s=30,
                       facecolors="none", edgecolors=style.PARETO_COLOR, lw=0.7, zorder=4)
            style.set_scale(ax, "x", (pts if one_dataset else df)["latency_p50_ms"])
            ax.set_title(_panel_title(key, varying))
            if not one_dataset or ax.get_subplotspec().is_last_row():
                ax.set_xlabel("p50 latency (ms / query)")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("recall@10")
            ax.margins(x=0.08, y=0.12)
        handles, labels = axes[0].get_legend_handles_labels()
        for ax in axes[1:]:  # thresholds missing from the first panel
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        order = sorted(range(len(labels)), key=lambda i: (labels[i] == "Pareto front",
                                                          _num(labels[i])))
        fig.legend([handles[i] for i in order], [labels[i] for i in order],
                   title="pruning threshold", loc="outside lower center",
                   ncol=min(len(labels), 4 if len(panels) == 1 else 7))
        spread = style.spread_text(pts["n_seeds"], query_se=query_se)
        style.add_footnote(fig, runs[runs["run_id"].isin(all_run_ids(pts))], spread)
        files = style.save(fig, out, NAME)
    files.append(write_points(pts, out, NAME))
    return Result(NAME, files=files, caption=f"{CAPTION} {spread[0].upper()}{spread[1:]}.")



def _num(label: str) -> float:
    try:
        return float(label)
    except ValueError:
        return np.inf


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.recall_vs_latency")


if __name__ == "__main__":
    raise SystemExit(main())
