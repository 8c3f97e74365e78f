"""Paper 1's pruning study: model size (non-zero weights, bytes) and recall@10 against the
weight-pruning threshold, one curve per (preset, dataset, model, feature set).

    python -m analysis.pruning_threshold [--experiment product_search] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import style
from analysis.common import PRODUCT_SEARCH_CMD, Result, run_builders, write_points, xmr_runs

NAME = "pruning_threshold"
CURVE_COLS = ["experiment", "dataset", "model", "features"]
DEFAULT_BEAM = 10  # conf/eval/default.yaml: recall is read at this beam when it was run


def points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (curve, threshold): model_nnz, model_bytes (independent of the beam) and
    recall@10 at beam 10 if the curve has it, else at its widest beam (``recall_beam``).
    Curves with at least two thresholds only."""
    df = xmr_runs(runs).dropna(subset=["threshold", "model_nnz"])
    rows = []
    for key, curve in df.groupby(CURVE_COLS, dropna=False, sort=False):
        if curve["threshold"].nunique() < 2:
            continue
        beams = curve["beam_size"].dropna()
        beam = DEFAULT_BEAM if (beams == DEFAULT_BEAM).any() else (
            beams.max() if len(beams) else pd.NA)
        for t, at_t in curve.groupby("threshold"):
            latest = at_t.iloc[0]  # runs come newest first
            at_beam = at_t if beam is pd.NA else at_t[(at_t["beam_size"] == beam).fillna(False)]
            rows.append({**dict(zip(CURVE_COLS, key)), "threshold": t,
                         "model_nnz": latest["model_nnz"], "model_bytes": latest["model_bytes"],
                         "recall_at_10": (at_beam["recall_at_10"].iloc[0] if len(at_beam)
                                          else float("nan")),
                         "recall_beam": beam, "run_id": latest["run_id"],
                         "recall_run_id": at_beam["run_id"].iloc[0] if len(at_beam) else None})
    return pd.DataFrame(rows, columns=CURVE_COLS + [
        "threshold", "model_nnz", "model_bytes", "recall_at_10", "recall_beam", "run_id",
        "recall_run_id"])


def _curve_label(key: dict, varying: list[str]) -> str:
    parts = [style.feature_label(key[c]) if c == "features" else str(key[c]) for c in varying]
    return ", ".join(parts) if parts else style.feature_label(key["features"])


def build(runs: pd.DataFrame, out: Path) -> Result:
    pts = points(runs)
    if pts.empty:
        return Result(NAME, missing=f"no runs with several pruning thresholds — run "
                                    f"`{PRODUCT_SEARCH_CMD}`")
    beams = sorted(pts["recall_beam"].dropna().unique())
    beam_text = ("beam " + "/".join(str(int(b)) for b in beams)
                 + ("" if beams == [DEFAULT_BEAM] else " (beam 10 not run: the widest beam)"))
    caption = ("Model size — non-zero weights and bytes of the sparse weight matrices — and "
               f"recall@10 ({beam_text}) against the weight-pruning threshold (|w| below it "
               "set to zero after training).")
    pts = pts.assign(model_mb=pts["model_bytes"] / 2**20)
    varying = [c for c in CURVE_COLS if pts[c].nunique(dropna=False) > 1]
    curves = list(pts.groupby(CURVE_COLS, dropna=False, sort=False))
    curves.sort(key=lambda kv: (style.feature_order(pts["features"]).index(kv[0][3]),
                                str(kv[0][:3])))
    panels = [("model_nnz", "non-zero weights"), ("model_mb", "model size (MiB)"),
              ("recall_at_10", f"recall@10 ({beam_text.split(' (')[0]})")]
    with style.context():
        fig, axes = style.figure(3, panel_height=2.0)
        others = [c for c in varying if c != "features"]  # marker: dataset / preset / model
        groups = sorted({tuple(str(v) for v in k[:3]) for k, _ in curves})
        for i, (key, curve) in enumerate(curves):
            marker = style.MARKERS[groups.index(tuple(str(v) for v in key[:3]))
                                   % len(style.MARKERS)] if others else "o"
            key = dict(zip(CURVE_COLS, key))
            curve = curve.sort_values("threshold")
            color = style.feature_color(key["features"], i)
            for ax, (col, _) in zip(axes, panels):
                ax.plot(curve["threshold"], curve[col], marker=marker, color=color,
                        label=_curve_label(key, varying))
        for ax, (col, ylabel) in zip(axes, panels):
            ax.set_xlabel("pruning threshold")
            ax.set_ylabel(ylabel)
            if (pts["threshold"] == 0).any():
                ax.set_xscale("symlog", linthresh=pts.loc[pts["threshold"] > 0,
                                                          "threshold"].min())
            else:
                style.set_scale(ax, "x", pts["threshold"])
            style.value_ticks(ax, "x", pts["threshold"])
            if col != "recall_at_10":
                style.set_scale(ax, "y", pts[col])
            else:
                style.set_scale(ax, "y", pd.Series([0.5, 1.0]))  # linear
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4))
        used = set(pts["run_id"]) | set(pts["recall_run_id"].dropna())
        style.add_footnote(fig, runs[runs["run_id"].isin(used)])
        files = style.save(fig, out, NAME)
    files.append(write_points(pts.drop(columns="model_mb"), out, NAME))
    return Result(NAME, files=files, caption=caption)


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.pruning_threshold")


if __name__ == "__main__":
    raise SystemExit(main())
