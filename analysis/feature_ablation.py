"""Paper 1's feature-set ablation: recall@10 of word1, word123, char3 and all, at the default
beam 10 / threshold 0.1 where that grid point was run, else the best run of each feature set
(the caption and the bar labels say which).

    python -m analysis.feature_ablation [--experiment product_search] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import style
from analysis.common import PRODUCT_SEARCH_CMD, Result, run_builders, write_points, xmr_runs
from analysis.seeds import all_run_ids, logged_query_spread, over_seeds
from xmr.params import PREDICT, XRLinearParams

NAME = "feature_ablation"
GROUP_COLS = ["experiment", "dataset", "model"]
# the default beam width and pruning threshold: the library's (xmr.params)
DEFAULT_BEAM, DEFAULT_THRESHOLD = PREDICT.beam_size, XRLinearParams().threshold


def points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (group, feature set): the default-setting runs if present (``setting`` =
    'default'), else the (threshold, beam) with the best mean recall@10 ('best'); recall@10
    as the mean over seeds with ``recall_at_10_std`` and ``n_seeds``. Groups with ≥ 2
    feature sets."""
    df = xmr_runs(runs).dropna(subset=["features", "recall_at_10"])
    rows = []
    for key, group in df.groupby(GROUP_COLS, dropna=False, sort=False):
        if group["features"].nunique() < 2:
            continue
        for feat, runs_f in group.groupby("features"):
            grid = over_seeds(runs_f, ["threshold", "beam_size"], ["recall_at_10"])
            default = grid[(grid["beam_size"] == DEFAULT_BEAM).fillna(False)
                           & np.isclose(grid["threshold"], DEFAULT_THRESHOLD)]
            if len(default):
                point, setting = default.iloc[0], "default"
            else:
                point, setting = grid.loc[grid["recall_at_10"].idxmax()], "best"
            rows.append({**dict(zip(GROUP_COLS, key)), "features": feat,
                         "recall_at_10": point["recall_at_10"],
                         "recall_at_10_std": point["recall_at_10_std"],
                         "n_seeds": point["n_seeds"], "setting": setting,
                         "threshold": point["threshold"], "beam_size": point["beam_size"],
                         "n_runs": len(runs_f), "run_id": point["run_id"],
                         "run_ids": point["run_ids"]})
    out = pd.DataFrame(rows, columns=GROUP_COLS + ["features", "recall_at_10",
                                                   "recall_at_10_std", "n_seeds", "setting",
                                                   "threshold", "beam_size", "n_runs",
                                                   "run_id", "run_ids"])
    order = {f: i for i, f in enumerate(style.feature_order(out["features"]))}
    return out.sort_values(GROUP_COLS + ["features"],
                           key=lambda c: c.map(order) if c.name == "features" else c
                           ).reset_index(drop=True)


def caption_for(pts: pd.DataFrame) -> str:
    head = "Feature-set ablation: recall@10 of each TF-IDF feature set"
    if (pts["setting"] == "default").all():
        return f"{head} at the default beam {DEFAULT_BEAM} and pruning threshold " \
               f"{DEFAULT_THRESHOLD}."
    if (pts["setting"] == "best").all():
        return (f"{head}. The default grid point (beam {DEFAULT_BEAM}, threshold "
                f"{DEFAULT_THRESHOLD}) was not run: each bar is the feature set's best run "
                "over the beams and thresholds that were (t = threshold, b = beam under each "
                "value).")
    return (f"{head} at beam {DEFAULT_BEAM} / threshold {DEFAULT_THRESHOLD} where that was "
            "run, else the feature set's best run (those bars show its t = threshold, "
            "b = beam).")


def build(runs: pd.DataFrame, out: Path) -> Result:
    pts = points(runs)
    # one-seed points: ± the standard error over test queries instead of no bar
    pts, query_se = logged_query_spread(pts, runs, ["recall_at_10"])
    if pts.empty:
        return Result(NAME, missing=f"no runs with at least two feature sets — run "
                                    f"`{PRODUCT_SEARCH_CMD}`")
    caption = caption_for(pts)
    groups = list(pts.groupby(GROUP_COLS, dropna=False, sort=False))
    varying = [c for c in GROUP_COLS if pts[c].nunique(dropna=False) > 1]
    features = style.feature_order(pts["features"])
    width = 0.8 / len(features)
    with style.context():
        fig_w = style.SINGLE_COLUMN_IN if len(groups) == 1 else style.DOUBLE_COLUMN_IN
        fig, (ax,) = style.figure(1, width=fig_w, panel_height=2.4)
        for j, feat in enumerate(features):
            xs, ys, errs, labels = [], [], [], []
            for g, (_, grp) in enumerate(groups):
                row = grp[grp["features"] == feat]
                if row.empty:
                    continue
                row = row.iloc[0]
                xs.append(g + (j - (len(features) - 1) / 2) * width)
                ys.append(row["recall_at_10"])
                errs.append(row["recall_at_10_std"])
                labels.append(f"{row['recall_at_10']:.3f}" + (
                    "" if row["setting"] == "default" else
                    f"\nt={style.fmt_threshold(row['threshold'])}, b={int(row['beam_size'])}"))
            bars = ax.bar(xs, ys, width * 0.92, color=style.feature_color(feat, j),
                          label=style.feature_label(feat),
                          yerr=pd.Series(errs, dtype=float).fillna(0.0).to_numpy(),
                          error_kw={"elinewidth": 0.6, "capsize": 1.5, "capthick": 0.6})
            ax.bar_label(bars, labels=labels, fontsize=5.5, padding=1.5)
        ax.set_xticks(range(len(groups)))
        if varying:
            ax.set_xticklabels(["\n".join(str(dict(zip(GROUP_COLS, k))[c]) for c in varying)
                                for k, _ in groups])
        else:
            ax.set_xticks([])
            ax.set_xlabel(f"{groups[0][0][1]}, {groups[0][0][2]}")
        ax.set_ylabel("recall@10")
        ax.set_ylim(0, min(1.0, pts["recall_at_10"].max() * 1.25) or 1.0)
        ax.grid(axis="x", visible=False)
        fig.legend(loc="outside lower center", ncol=2, title="feature set")
        if (pts["setting"] == "default").all():
            setting = f"all bars at beam {DEFAULT_BEAM}, threshold {DEFAULT_THRESHOLD}"
        elif (pts["setting"] == "best").all():
            setting = (f"beam {DEFAULT_BEAM} / threshold {DEFAULT_THRESHOLD} not run: each bar "
                       "is the feature set's best run (t = threshold, b = beam)")
        else:
            setting = (f"bars without t/b: beam {DEFAULT_BEAM}, threshold {DEFAULT_THRESHOLD}; "
                       "with t/b: the feature set's best run")
        spread = style.spread_text(pts["n_seeds"], query_se=query_se)
        style.add_footnote(fig, runs[runs["run_id"].isin(all_run_ids(pts))],
                           f"{setting}; {spread}")
        files = style.save(fig, out, NAME)
    files.append(write_points(pts, out, NAME))
    return Result(NAME, files=files, caption=f"{caption} {spread[0].upper()}{spread[1:]}.")


def main(argv: list[str] | None = None) -> int:
    return run_builders([build], __doc__.split("\n\n")[0], argv,
                        prog="python -m analysis.feature_ablation")


if __name__ == "__main__":
    raise SystemExit(main())
