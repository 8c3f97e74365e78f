"""Where the one-vs-rest baseline's time goes on Home Depot, per phase, and its lanes solver
against the one-label solver, measured in one run (sides alternating A B A B).

Usage::

    python -m benchmarks.ovr_homedepot --fraction 0.02 --repeats 2 \\
        --data-dir ../shared/data --out bench-results/ovr_homedepot.json

Data: ``paper1_comparison``'s Home Depot protocol (`xmr.datasets.homedepot`,
``title_as_input=True``: 36,818 training rows, 29,045 labels, 1-2 positives per label in the
median) with the harness's features ``all`` (word 1-3-grams + char trigrams, TF-IDF,
`xmr.features.TextFeaturizer`), fitted on the training texts. A seeded random ``fraction``
of the labels is kept with **every** training row: one label's problem then costs what it
costs in the full fit (all N rows), so the full fit costs about the subset's / ``fraction``
(``full_estimate_cpu_s``). Test rows without a kept label are dropped.

The pipeline is `baselines.ovr_linear.select_threshold` (a fit on 90% of the rows at the
smallest candidate threshold, then every candidate scored on the held-out 10%), then the
final fit on every row at the chosen threshold: the three phases the harness's OVR run goes
through (`experiments.models.OVRRunner` with its tuning step, `experiments.tuning`, which
holds out query rows only and keeps the title rows in training). Phases:

- ``selection_fit``: the fit on the training part;
- ``selection_score``: re-pruning to each candidate and predicting the validation rows
  (those with a kept label: on a subset the others would score 0 at every candidate and tie
  them);
- ``final_fit``: the fit on every row.

Each phase's CPU seconds (``time.process_time``: every thread of this process, so another
job on a shared machine inflates them less than wall time) and wall seconds. Sides:
``one_lane`` (``lanes=1``: one label per pass of the rows, the solver XR-Linear uses) and
``lanes`` (the default, ``OVRLinear(lanes=None)``); every repeat runs A then B after an
untimed warm-up that compiles the kernels, and the figures are medians over repeats.
``ratio``: lanes / one_lane per phase; accuracy (P@1, R@10 on the test rows, the final
model) and the chosen threshold of both sides, to show what moved.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from baselines.ovr_linear import (
    THRESHOLD_CANDIDATES,
    OVRLinear,
    candidate_scores,
    validation_split,
)
from benchmarks.common import finish_run, machine_info, start_run
from xmr.params import OVRParams

logger = logging.getLogger(__name__)

SIDES = {"one_lane": 1, "lanes": None}  # OVRLinear's lanes per side, A then B
PHASES = ("selection_fit", "selection_score", "final_fit")
FEATURES = {"word_ngram_range": (1, 3), "char_ngram_range": (3, 3)}  # the harness's `all`


def load(data_dir: str | Path, fraction: float, seed: int) -> dict:
    """Home Depot's train/test matrices (features ``all``) restricted to a seeded random
    ``fraction`` of the labels; every training row is kept."""
    from xmr.datasets.homedepot import HomeDepotConfig, load_homedepot
    from xmr.features import TextFeaturizer

    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    ds = load_homedepot(data_dir, HomeDepotConfig(title_as_input=True))
    train, test = ds.splits["train"], ds.splits["test"]
    feat = TextFeaturizer(**FEATURES).fit(train.texts)
    X, X_test = feat.transform(train.texts), feat.transform(test.texts)
    L = train.Y.shape[1]
    n_keep = max(1, int(round(fraction * L)))
    labels = np.sort(np.random.default_rng(seed).choice(L, n_keep, replace=False))
    Y = sp.csr_matrix(train.Y)[:, labels]
    Y_test = sp.csr_matrix(test.Y)[:, labels]
    rows = np.flatnonzero(np.diff(Y_test.indptr) > 0)
    return {"X": X, "Y": Y, "X_test": X_test[rows], "Y_test": Y_test[rows],
            "n_labels_total": int(L), "n_labels": int(n_keep)}


def _timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def run_side(data: dict, lanes: int | None, *, n_jobs: int, seed: int,
             candidates=THRESHOLD_CANDIDATES, valid_fraction: float = 0.1) -> dict:
    """The harness's OVR pipeline on ``data`` with ``lanes``: per phase CPU and wall
    seconds, the chosen threshold, the validation scores and the final model's accuracy."""
    from xmr.metrics import ranking_metrics

    X, Y = data["X"], data["Y"]
    params = {"lanes": lanes, "n_jobs": n_jobs, "seed": seed, "allow_empty": True}
    cands = sorted(candidates)
    valid, fit = validation_split(X.shape[0], valid_fraction, seed)
    # a row without a kept label scores 0 at every threshold: on a label subset nearly all
    # are, and their zeros tie the candidates (in the full data every row has a label)
    valid = valid[np.diff(Y[valid].indptr) > 0]
    if valid.size == 0:
        raise ValueError("no validation row has a kept label: raise the fraction of labels")
    out: dict = {}
    probe, out["selection_fit_cpu_s"], out["selection_fit_wall_s"] = _timed(
        lambda: OVRLinear(**params, threshold=cands[0]).fit(X[fit], Y[fit]))
    scores, out["selection_score_cpu_s"], out["selection_score_wall_s"] = _timed(
        lambda: candidate_scores(probe, X[valid], Y[valid], cands))
    best = max(cands, key=lambda c: (scores[c], c))
    probe = None  # its weights freed before the final fit
    model, out["final_fit_cpu_s"], out["final_fit_wall_s"] = _timed(
        lambda: OVRLinear(**params, threshold=best).fit(X, Y))
    out["total_cpu_s"] = sum(out[f"{p}_cpu_s"] for p in PHASES)
    out["total_wall_s"] = sum(out[f"{p}_wall_s"] for p in PHASES)
    metrics = ranking_metrics(data["Y_test"], model.predict(data["X_test"], topk=10))
    out |= {"threshold": best, "n_valid_rows": int(valid.size),
            "valid_recall_at_10": {str(c): s for c, s in scores.items()},
            "model_nnz": model.model_nnz_, "precision_at_1": metrics["precision_at_1"],
            "recall_at_10": metrics["recall_at_10"]}
    return out


def summarise(runs: list[dict], fraction: float) -> dict:
    """Medians of the timings over the repeats, the full fit's estimate (÷ ``fraction``),
    the last repeat's accuracy (every repeat trains the same models)."""
    keys = [k for k in runs[0] if k.endswith("_s")]
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["full_estimate_cpu_s"] = out["total_cpu_s"] / fraction
    out["total_cpu_s_runs"] = [r["total_cpu_s"] for r in runs]
    out |= {k: v for k, v in runs[-1].items() if k not in keys}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--fraction", type=float, default=0.02,
                        help="share of the labels kept (every row is kept)")
    parser.add_argument("--repeats", type=int, default=2, help="A B pairs")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="threads per fit (1: CPU seconds = one core's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    argv = sys.argv[1:] if argv is None else list(argv)
    run = start_run("benchmarks.ovr_homedepot", argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    data = load(args.data_dir, args.fraction, args.seed)
    X, Y = data["X"], data["Y"]
    logger.info("Home Depot: %d rows, %d features, %d of %d labels", X.shape[0], X.shape[1],
                data["n_labels"], data["n_labels_total"])
    for lanes in SIDES.values():  # compile the kernels before anything is timed
        OVRLinear(lanes=lanes, n_jobs=1, allow_empty=True).fit(X[:50], Y[:50]).predict(X[:5])
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for r in range(args.repeats):
        for side, lanes in SIDES.items():
            res = run_side(data, lanes, n_jobs=args.n_jobs, seed=args.seed)
            logger.info("%s, repeat %d: %s", side, r,
                        {k: round(v, 3) for k, v in res.items() if k.endswith("cpu_s")})
            runs[side].append(res)
    sides = {side: summarise(rs, args.fraction) for side, rs in runs.items()}
    a, b = sides["one_lane"], sides["lanes"]
    ratio = {f"{p}_cpu": b[f"{p}_cpu_s"] / a[f"{p}_cpu_s"] for p in PHASES + ("total",)
             if a[f"{p}_cpu_s"] > 0}
    ratio |= {"precision_at_1_diff": b["precision_at_1"] - a["precision_at_1"],
              "recall_at_10_diff": b["recall_at_10"] - a["recall_at_10"]}
    result = {"dataset": "homedepot (title_as_input)", "features": "all",
              "n_rows": int(X.shape[0]), "n_features": int(X.shape[1]),
              "n_labels": data["n_labels"], "n_labels_total": data["n_labels_total"],
              "fraction": args.fraction, "n_jobs": args.n_jobs, "repeats": args.repeats,
              "solver": {k: getattr(OVRParams, k) for k in ("Cp", "Cn", "eps", "max_iter",
                                                             "bias")},
              "machine": machine_info(None), "runs": [finish_run(run)],
              "sides": sides, "ratio_lanes_over_one_lane": ratio}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return result


if __name__ == "__main__":
    main()
