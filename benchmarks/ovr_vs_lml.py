"""Side by side: our one-vs-rest baseline against LibMultiLabel's ``train_1vsrest``, in one run.

Our OVR (``baselines.ovr_linear.OVRLinear``, DiSMEC-style: one squared-hinge SVM per label
over all rows, xmr's solver, weights pruned at a fixed ``--threshold``) is the one-vs-rest
baseline of the paper; the reference implementation users know is LibMultiLabel's
``train_1vsrest`` (liblinear, one problem per label over all rows, dense weights, no pruning),
run at its published example settings (liblinear ``-s 1 -B 1 -e 0.0001``: the same loss,
bias 1, a tighter tolerance than our 0.1; ``--lml-options`` changes them).

Both sides read the same ``.npz`` matrices (the datasets of :mod:`benchmarks.vs_pecos`:
X CSR float32 with l2-normalised rows, Y CSR 0/1), and every fit runs in a fresh process of
its own (ours: ``benchmarks._scale_worker ovr`` in this venv; LibMultiLabel:
``benchmarks/_lml_worker.py`` in ``.lml-venv``, ``make lml-venv``), so each reports its own
peak memory. The fits alternate, ours first (A B A B …, ``--repeats`` >= 3 of each), so that
a shared machine's drift reaches both sides alike; the figures are the medians.

- train_s: the training call as each side measures it (ours: ``OVRLinear.fit_time_s_``
  after an untimed warm-up fit that loads numba's kernels; LibMultiLabel: ``train_1vsrest``,
  liblinear's format conversion included). All cores on both sides.
- peak_mem_mib / peak_mem_train_mib: the process's ``VmHWM`` at the end / after training.
- throughput_qps: test rows / seconds of one batch predict of the whole test set (top 10).
- precision_at_1, precision_at_5, recall_at_10 on the test set; model_nnz.
- lanes (ours): labels solved per pass of the rows, as the fit resolved ``--lanes`` (default
  OVRLinear's auto: 8 at most; ``--lanes 1``: XR-Linear's one-label solver).
- ratio: ours / LibMultiLabel for every figure, ``*_diff`` ours minus LibMultiLabel for the
  accuracy, and ``holds``: ours at most as slow (train_s ratio <= 1) with P@1 within 0.5
  point (issue 24's bar).

Usage::

    python -m benchmarks.ovr_vs_lml --dataset bibtex --out bench-results/ovr_vs_lml_bibtex.json
    python -m benchmarks.ovr_vs_lml --dataset dense --out bench-results/ovr_vs_lml_dense.json
    python -m benchmarks.ovr_vs_lml --dataset synthetic --side-timeout 7200 \
        --out bench-results/ovr_vs_lml_synthetic.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import _lml_worker, scale, vs_pecos
from benchmarks.common import finish_run, start_run
from xmr.params import LinearParams

logger = logging.getLogger(__name__)

SIDES = ("ovr", "lml_1vsrest")  # A, B: the order of every repeat
OVR_THRESHOLD = 0.0  # default --threshold: unpruned, as LibMultiLabel's weights are
LML_OPTIONS = _lml_worker.DEFAULTS["options"]  # its published examples
TOPK = vs_pecos.PREDICT["topk"]  # labels kept per test row, both sides
SUMMARY_KEYS = ("train_s", "peak_mem_mib", "peak_mem_train_mib", "throughput_qps")
ACCURACY_KEYS = ("precision_at_1", "precision_at_5", "recall_at_10", "model_nnz")
REPORT_KEYS = SUMMARY_KEYS + ACCURACY_KEYS
P1_TOLERANCE = 0.005  # "equal P@1": within half a point
NOT_RECORDED = "?"  # our lanes in a JSON written before the worker reported them


def ovr_model(threshold: float, lanes: int | None = None) -> dict:
    """Our side's ``OVRLinear`` keyword arguments: the solver's defaults (``LinearParams``,
    PECOS's) at a fixed pruning threshold, ``lanes`` labels per pass of the rows (None:
    OVRLinear's auto, 8; 1: XR-Linear's one-label solver)."""
    p = LinearParams()
    return {"threshold": threshold, "Cp": p.Cp, "Cn": p.Cn, "eps": p.eps,
            "max_iter": p.max_iter, "bias": p.bias, "n_jobs": p.n_jobs, "lanes": lanes}


def alternating_order(repeats: int, sides=SIDES) -> list[tuple[str, int]]:
    """``[(side, repeat), …]``: A B A B …, every side once per repeat, in ``sides`` order."""
    return [(side, r) for r in range(repeats) for side in sides]


def run_ovr(folder: Path, model: dict, timeout_s: float | None = None) -> dict:
    """Our OVR in a fresh process (``benchmarks._scale_worker ovr``), with its accuracy."""
    settings = folder / "settings_ovr.json"
    settings.write_text(json.dumps({"model": model, "predict": {"topk": TOPK}}))
    out = folder / "result_ovr.json"
    scale._run([sys.executable, "-m", "benchmarks._scale_worker", "ovr", "--dir", folder,
                "--settings", settings, "--out", out], "ovr side", timeout_s)
    return json.loads(out.read_text()) | scale._metrics(folder, "ovr")


def run_lml(folder: Path, options: str, timeout_s: float | None = None) -> dict:
    """LibMultiLabel's ``train_1vsrest`` in a fresh process (``.lml-venv``)."""
    return scale.run_lml(folder, "1vsrest", timeout_s, {"options": options, "topk": TOPK})


def run_alternating(folder: Path, repeats: int, runners: dict,
                    timeout_s: float | None = None) -> dict[str, list[dict]]:
    """Every ``(side, repeat)`` of :func:`alternating_order`, each ``runners[side](folder,
    timeout_s)``; returns ``{side: [result, …]}``. A side that is skipped (no venv, too large
    for the memory) or stopped at ``timeout_s`` is not run again."""
    runs: dict[str, list[dict]] = {side: [] for side in runners}
    for side, repeat in alternating_order(repeats, tuple(runners)):
        done = runs[side]
        if done and ("skipped" in done[-1] or "did_not_finish" in done[-1]):
            continue
        load = os.getloadavg()[0]
        try:
            entry = runners[side](folder, timeout_s)
        except scale.SideTimeout as exc:
            entry = {"did_not_finish": str(exc), "time_limit_s": timeout_s}
        entry |= {"repeat": repeat, "load_average_before": load}
        logger.info("%s, repeat %d: %s", side, repeat,
                    {k: entry[k] for k in REPORT_KEYS + ("skipped", "did_not_finish")
                     if k in entry})
        done.append(entry)
    return runs


def summarise(runs: list[dict]) -> dict:
    """Medians of the timings and memory over the completed repeats, accuracy of the last
    (every run trains the same model), and each repeat's train_s / throughput_qps."""
    if not runs:
        return {"skipped": "not run"}
    done = [r for r in runs if "skipped" not in r and "did_not_finish" not in r]
    if not done:
        return dict(runs[-1])
    out = {}
    if done[-1] is not runs[-1]:  # a later repeat stopped at the time limit
        out["incomplete"] = runs[-1].get("did_not_finish") or runs[-1].get("skipped")
    runs, last = done, done[-1]
    out |= {k: statistics.median(r[k] for r in runs) for k in SUMMARY_KEYS if k in last}
    out |= {k: last[k] for k in ACCURACY_KEYS if k in last}
    out |= {f"{k}_runs": [r[k] for r in runs] for k in ("train_s", "throughput_qps")}
    out |= {k: v for k, v in last.items()
            if k not in REPORT_KEYS and k not in ("repeat", "load_average_before")}
    return out


def ratios(ours: dict, peer: dict) -> dict:
    """ours / LibMultiLabel for every reported figure, accuracy differences, and ``holds``
    (ours at most as slow, P@1 within :data:`P1_TOLERANCE`); {} when a side has no figures."""
    if "train_s" not in ours or "train_s" not in peer:
        return {}
    out = {k: ours[k] / peer[k] for k in REPORT_KEYS
           if k in ours and k in peer and peer[k]}
    for k in ("precision_at_1", "precision_at_5", "recall_at_10"):
        out[f"{k}_diff"] = ours[k] - peer[k]
    out["holds"] = bool(out["train_s"] <= 1.0
                        and abs(out["precision_at_1_diff"]) <= P1_TOLERANCE)
    return out


def markdown_table(result: dict) -> str:
    fmt = vs_pecos.fmt_number
    ours, peer = result["ovr"], result["lml_1vsrest"]
    lines = [f"### {result['dataset']}: our OVR vs LibMultiLabel train_1vsrest", "",
             f"| metric | ours (OVRLinear, lanes {ours.get('lanes', NOT_RECORDED)}) "
             "| LibMultiLabel | ours / LibMultiLabel |",
             "|---|---:|---:|---:|"]
    for k in REPORT_KEYS:
        lines.append(f"| {k} | {fmt(ours.get(k))} | {fmt(peer.get(k))} | "
                     f"{fmt(result['ratio'].get(k))} |")
    for side, entry in (("ours", ours), ("LibMultiLabel", peer)):
        if "skipped" in entry or "did_not_finish" in entry:
            lines.append(f"\n{side}: {entry.get('skipped') or entry.get('did_not_finish')}")
    if "holds" in result["ratio"]:
        lines.append(f"\nat least as fast at equal P@1 (within {P1_TOLERANCE * 100:g} point): "
                     f"{'yes' if result['ratio']['holds'] else 'no'}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ovr_vs_lml", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=tuple(vs_pecos.LOADERS), required=True)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--repeats", type=int, default=3,
                   help="fits of each side, alternating; timings are their median (>= 3)")
    p.add_argument("--threshold", type=float, default=OVR_THRESHOLD,
                   help="our OVR's fixed pruning threshold (default %(default)s: unpruned)")
    p.add_argument("--lanes", type=int, default=None,
                   help="our OVR's labels per pass of the rows (default: OVRLinear's auto, "
                        "8; 1: one label at a time, XR-Linear's solver)")
    p.add_argument("--lml-options", default=LML_OPTIONS,
                   help="liblinear options of train_1vsrest (default: %(default)r)")
    p.add_argument("--data-dir", type=Path, default=vs_pecos.default_data_dir(),
                   help="folder holding bibtex/npz (default: ../shared/data or $XMR_SHARED_DATA)")
    p.add_argument("--side-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop a fit's process after this many seconds and record the side as "
                        "did-not-finish; default: no limit")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threshold < 0:
        p.error(f"--threshold must be >= 0, got {args.threshold}")
    if args.lanes is not None and args.lanes < 1:
        p.error(f"--lanes must be >= 1, got {args.lanes}")
    if args.side_timeout is not None and args.side_timeout <= 0:
        p.error(f"--side-timeout must be > 0 seconds, got {args.side_timeout}")
    return args


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    run = start_run("benchmarks.ovr_vs_lml", argv)
    args = parse_args(argv)
    if args.repeats < 3:
        logger.warning("--repeats %d < 3: timings are not the median of >= 3 runs", args.repeats)
    data = vs_pecos.load_dataset(args.dataset, args.data_dir)
    logger.info("%s: %s", args.dataset, data.info)
    model = ovr_model(args.threshold, args.lanes)
    runners = {"ovr": lambda f, t: run_ovr(f, model, t),
               "lml_1vsrest": lambda f, t: run_lml(f, args.lml_options, t)}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ovr_vs_lml_") as tmp:
        folder = vs_pecos.write_matrices(data, Path(tmp))
        runs = run_alternating(folder, args.repeats, runners, args.side_timeout)
    ours, peer = summarise(runs["ovr"]), summarise(runs["lml_1vsrest"])
    result = {
        "dataset": args.dataset,
        "settings": {"ovr": {**model, "topk": TOPK, "class": "baselines.ovr_linear.OVRLinear"},
                     "lml_1vsrest": {"options": args.lml_options, "topk": TOPK,
                                     "function": "libmultilabel.linear.train_1vsrest"},
                     "repeats": args.repeats, "order": [list(x) for x in alternating_order(
                         args.repeats)], "side_timeout_s": args.side_timeout,
                     "data": data.info},
        "machine": vs_pecos.machine_info(None),
        "runs": [finish_run(run)],
        "wall_s": time.perf_counter() - t0,
        "ovr": ours,
        "lml_1vsrest": peer,
        "ratio": ratios(ours, peer),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown_table(result))
    logger.info("wrote %s", args.out)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
