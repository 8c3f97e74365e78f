"""Paper 1's pruning study: model size (non-zero weights, bytes) and recall@10 against the
weight-pruning threshold, one curve per (preset, dataset, model, feature set).

    python -m analysis.pruning_threshold [--experiment product_search] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import style
from analysis.common import PRODUCT_SEARCH_CMD, Result, run_builders, write_points, xmr_runs
from analysis.seeds import all_run_ids, logged_query_spread, over_seeds
from xmr.params import PREDICT

NAME = "pruning_threshold"
CURVE_COLS = ["experiment", "dataset", "model", "features"]
DEFAULT_BEAM = PREDICT.beam_size  # recall is read at the default beam when it was run


def points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (curve, threshold): model_nnz, model_bytes (independent of the beam) and
    recall@10 at beam 10 if the curve has it, else at its widest beam (``recall_beam``), each
    the mean over seeds with ``*_std`` and ``n_seeds``. Curves with at least two thresholds
    only."""
    df = xmr_runs(runs).dropna(subset=["threshold", "model_nnz"])
    rows = []
    for key, curve in df.groupby(CURVE_COLS, dropna=False, sort=False):
        if curve["threshold"].nunique() < 2:
            continue
        beams = curve["beam_size"].dropna()
        beam = DEFAULT_BEAM if (beams == DEFAULT_BEAM).any() else (
            beams.max() if len(beams) else pd.NA)
        size = over_seeds(curve, ["threshold"], ["model_nnz", "model_bytes"])
        at_beam = curve if beam is pd.NA else curve[(curve["beam_size"] == beam).fillna(False)]
        recall = over_seeds(at_beam, ["threshold"], ["recall_at_10"]).set_index("threshold")
        for _, row in size.iterrows():
            t = row["threshold"]
            r = recall.loc[t] if t in recall.index else None
            rows.append({**dict(zip(CURVE_COLS, key)), "threshold": t,
                         **{c: row[c] for c in ("model_nnz", "model_nnz_std", "model_bytes",
                                                "model_bytes_std")},
                         "recall_at_10": r["recall_at_10"] if r is not None else float("nan"),
                         "recall_at_10_std": (r["recall_at_10_std"] if r is not None
                                              else float("nan")),
                         "n_seeds": int(r["n_seeds"]) if r is not None else row["n_seeds"],
                         "recall_beam": beam, "run_id": row["run_id"],
                         "recall_run_id": r["run_id"] if r is not None else None,
                         "run_ids": ";".join(filter(None, [row["run_ids"], r["run_ids"] if r
                                                           is not None else ""]))})
    return pd.DataFrame(rows, columns=CURVE_COLS + [
        "threshold", "model_nnz", "model_nnz_std", "model_bytes", "model_bytes_std",
        "recall_at_10", "recall_at_10_std", "n_seeds", "recall_beam", "run_id",
        "recall_run_id", "run_ids"])


def _curve_label(key: dict, varying: list[str]) -> str:
    parts = [style.feature_label(key[c]) if c == "features" else str(key[c]) for c in varying]
    return ", ".join(parts) if parts else style.feature_label(key["features"])


def build(runs: pd.DataFrame, out: Path) -> Result:
    pts = points(runs)
    # one-seed points: ± the standard error over test queries instead of no bar
    pts, query_se = logged_query_spread(pts, runs, ["recall_at_10"], run_col="recall_run_id")
    if pts.empty:
        return Result(NAME, missing=f"no runs with several pruning thresholds — run "
                                    f"`{PRODUCT_SEARCH_CMD}`")
    beams = sorted(pts["recall_beam"].dropna().unique())
    beam_text = ("beam " + "/".join(str(int(b)) for b in beams)
                 + ("" if beams == [DEFAULT_BEAM] else " (beam 10 not run: the widest beam)"))
    caption = ("Model size — non-zero weights and bytes of the sparse weight matrices — and "
               f"recall@10 ({beam_text}) against the weight-pruning threshold (|w| below it "
               "set to zero after training).")
    pts = pts.assign(model_mb=pts["model_bytes"] / 2**20,
                     model_mb_std=pts["model_bytes_std"] / 2**20)
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
                style.errorbar(ax, curve["threshold"], curve[col], yerr=curve[f"{col}_std"],
                               marker=marker, color=color, label=_curve_label(key, varying))
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
        spread = style.spread_text(pts["n_seeds"], query_se=query_se)
        style.add_footnote(fig, runs[runs["run_id"].isin(all_run_ids(pts))], spread)
        files = style.save(fig, out, NAME)
    files.append(write_points(pts.drop(columns=["model_mb", "model_mb_std"]), out, NAME))
    return Result(NAME, files=files, caption=f"{caption} {spread[0].upper()}{spread[1:]}.")


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.pruning_threshold")


if __name__ == "__main__":
    raise SystemExit(main())
