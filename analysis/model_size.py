"""Size-matched view of a comparison: recall@10 against model size (``model_bytes``) for every
model of each (preset, dataset) that ran at least two models — a baseline can only be called
worse at the same size. Each run at beam 10 (or without a beam) is one point; a model with
several pruning thresholds is a curve. The table adds, for each baseline run, the best
XR-Linear recall@10 among the XR-Linear runs of the same comparison that are no larger.

    python -m analysis.model_size [--experiment paper1_comparison] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import style
from analysis.common import Result, run_builders, write_table, xmr_runs

NAME = "model_size"
PANEL_COLS = ["experiment", "dataset"]
MODELS = ("xrlinear", "pecos", "ovr_linear", "dual_encoder")  # legend order
BEAM = 10  # conf/eval/default.yaml
CMD = "python -m experiments.run -m experiment=paper1_comparison"


def points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run with model_bytes and recall@10 at beam 10 (or no beam), in panels
    with at least two models; ``xrlinear_at_most_this_size``: the best XR-Linear recall@10 of
    the panel among runs with model_bytes <= this run's (NaN when none)."""
    df = xmr_runs(runs).dropna(subset=["model", "recall_at_10", "model_bytes"])
    df = df[df["beam_size"].isna() | (df["beam_size"] == BEAM)]
    rows = []
    for _, panel in df.groupby(PANEL_COLS, dropna=False, sort=False):
        if panel["model"].nunique() < 2:
            continue
        xr = panel[panel["model"] == "xrlinear"]
        for _, r in panel.iterrows():
            small = xr[xr["model_bytes"] <= r["model_bytes"]]
            rows.append({**{c: r[c] for c in PANEL_COLS}, "model": r["model"],
                         "features": r["features"], "threshold": r["threshold"],
                         "model_mb": r["model_bytes"] / 2**20,
                         "recall_at_10": r["recall_at_10"],
                         "xrlinear_at_most_this_size": (small["recall_at_10"].max()
                                                        if len(small) else np.nan),
                         "run_id": r["run_id"]})
    cols = PANEL_COLS + ["model", "features", "threshold", "model_mb", "recall_at_10",
                         "xrlinear_at_most_this_size", "run_id"]
    out = pd.DataFrame(rows, columns=cols)
    rank = {m: i for i, m in enumerate(MODELS)}
    return (out.assign(_r=out["model"].map(lambda m: rank.get(m, len(MODELS))))
            .sort_values(PANEL_COLS + ["_r", "model_mb"]).drop(columns="_r")
            .reset_index(drop=True))


def build(runs: pd.DataFrame, out: Path) -> Result:
    pts = points(runs)
    if pts.empty:
        return Result(NAME, missing=f"no comparison with at least two models logging "
                                    f"model_bytes — run `{CMD}`")
    panels = list(pts.groupby(PANEL_COLS, dropna=False, sort=False))
    caption = ("Recall@10 (beam 10) against model size (MiB of the stored weights; the dual "
               "encoder: its parameters and label vectors), every model of a comparison.")
    with style.context():
        fig, axes = style.figure(len(panels), panel_height=2.2)
        models = list(dict.fromkeys(pts["model"]))
        for ax, (key, panel) in zip(axes, panels):
            for i, m in enumerate(models):
                cur = panel[panel["model"] == m].sort_values("model_mb")
                if cur.empty:
                    continue
                ax.plot(cur["model_mb"], cur["recall_at_10"], marker=style.MARKERS[
                    i % len(style.MARKERS)], label=m, linestyle="-" if len(cur) > 1 else "")
            ax.set_xscale("log")
            ax.set_xlabel("model size (MiB, log)")
            ax.set_ylabel("recall@10")
            ax.set_title(" · ".join(str(k) for k in key), fontsize="small")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4))
        style.add_footnote(fig, runs[runs["run_id"].isin(pts["run_id"])])
        files = style.save(fig, out, NAME)
    files += write_table(pts, out, NAME, title=caption,
                         footnote=style.footnote_text(runs[runs["run_id"].isin(pts["run_id"])]),
                         floatfmt={"model_mb": ".2f", "recall_at_10": ".4f",
                                   "xrlinear_at_most_this_size": ".4f", "threshold": "g"})
    return Result(NAME, files=files, caption=caption)


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.model_size")


if __name__ == "__main__":
    raise SystemExit(main())
