"""Scale curve: our XR-Linear against PECOS (and Omikuji, napkinXC, LibMultiLabel) from 20k to
1M labels.

For each size L the project's synthetic product-search generator draws L products, 2 L training
queries and ``--n-test`` test queries, featurised by word 1-2-gram TF-IDF (cached under
``--cache-dir``; generated in a process of its own). Then every side runs once, each in its own
process, on the same ``.npz`` matrices, with the settings of :mod:`benchmarks.vs_pecos`
(B = 16, max leaf 100, threshold 0.1, beam 10, topk 10):

- train_s: indexing + training seconds as each side measures it around its training call.
- peak_mem_mib: resident high-water mark (``VmHWM``) of the side's processes, data loading
  included. Ours: one process (fit, then predict and latency). PECOS: the largest of its fit,
  predict and latency worker processes. ``peak_mem_train_mib``: the fit alone.
- throughput_qps: test rows / seconds of one batch predict, all cores.
- latency_p50_ms / latency_p99_ms: every test row as one query, one thread, after 100 warm-up
  queries (ours: ``XRLinear.predict_one``; PECOS: its predict-only C++ model).
- precision_at_1, recall_at_10 on the test set; model_nnz; model_bytes (saved model folder).
- Omikuji (Parabel mode, one tree) and napkinXC (PLT), each at its documented defaults, run in
  their own venv (``make xmc-venv``; skipped with a note when it is absent): train_s,
  peak_mem_mib, throughput_qps, P@1, R@10, model_bytes (see ``benchmarks/_xmc_worker.py``).
- LibMultiLabel's ``train_tree`` (Bonsai-style, K = 100; side ``lml_tree``) and
  ``train_1vsrest`` (side ``lml_1vsrest``), at its published example settings (liblinear
  ``-s 1 -B 1 -e 0.0001``), in their own venv (``make lml-venv``; skipped with a note when it
  is absent): train_s, peak_mem_mib, throughput_qps, P@1, R@10, model_nnz (see
  ``benchmarks/_lml_worker.py``). ``train_1vsrest`` keeps dense (D + 1) x L weights: where
  they cannot fit in memory the side is recorded as skipped, with the size it needed.

One run of each side per size by default: timings on a shared machine are noisy, so compare
the ratios, which are measured in the same run. ``--repeats N`` runs the sides N times each,
interleaved (round r runs them in an order rotated by r, so no side always goes first): a
side's ``train_s``, ``peak_mem_mib`` and ``peak_mem_train_mib`` are then the medians of its
repeats (each repeat's in ``repeats``), and ``pair_ratios`` holds, per other side, our train
time over theirs in each round (the two ran back to back) with their median, min and max:
a ratio within the spread of those pairs is level, not a lead. Every side (PECOS included)
runs in a worker process of its own session: ``--side-timeout`` stops the whole worker
(PECOS's peer processes too) and records ``did_not_finish`` instead of holding up the run.
The JSON is rewritten after every side (with ``--repeats``, after every size); ``--resume``
keeps what it holds (same settings) and runs only the missing sides, so a run can be
continued or extended by sizes; ``--redo SIDE`` reruns one side. Its ``runs``
list records each invocation's command, code commit, UTC times and load averages
(``benchmarks.common.start_run``); ``python -m benchmarks.report`` renders a committed JSON
into the results docs. The figure plots train time and peak memory against L on log-log
axes with the least-squares slope of each side.

Usage::

    python -m benchmarks.scale --out bench-results/scale.json --figure bench-results/scale.png
    python -m benchmarks.scale --sizes 20000 100000 --sides xmr pecos   # a quick look
    python -m benchmarks.scale --resume --side-timeout 600 --sides omikuji napkinxc  # add sides
    python -m benchmarks.scale --nr-splits 2 --sides xmr omikuji --out bench-results/b2.json
    python -m benchmarks.scale --resume --side-timeout 3600 --sides lml_tree lml_1vsrest
    python -m benchmarks.scale --repeats 5 --sides xmr omikuji --sizes 300000   # level or not?
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._scale_worker import load_csr
from benchmarks.common import (
    MODEL,
    N_WARMUP,
    PREDICT,
    accuracy,
    finish_run,
    fmt_number,
    machine_info,
    recorded_runs,
    start_run,
)

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
XMC_WORKER = Path(__file__).resolve().parent / "_xmc_worker.py"
LML_WORKER = Path(__file__).resolve().parent / "_lml_worker.py"
DEFAULT_SIZES = (20_000, 100_000, 300_000, 1_000_000)
SIDES = ("xmr", "pecos", "omikuji", "napkinxc", "lml_tree", "lml_1vsrest")
PEERS = ("omikuji", "napkinxc")  # run by the .xmc-venv interpreter
LML_SIDES = {"lml_tree": "tree", "lml_1vsrest": "1vsrest"}  # side -> method, .lml-venv
KEYS = ("train_s", "peak_mem_mib", "peak_mem_train_mib", "throughput_qps", "latency_p50_ms",
        "latency_p99_ms", "precision_at_1", "recall_at_10", "model_nnz", "model_bytes")
SAME_SETTINGS = tuple(MODEL) + tuple(PREDICT) + ("n_test", "seed", "n_warmup")
REPEATED_KEYS = ("train_s", "peak_mem_mib", "peak_mem_train_mib")  # medians with --repeats
RATIO_KEYS = ("train_s", "peak_mem_mib", "peak_mem_train_mib", "throughput_qps",
              "latency_p50_ms", "latency_p99_ms", "model_bytes")


def xmc_python() -> Path | None:
    """The Omikuji/napkinXC venv's interpreter (``$XMR_XMC_PYTHON`` or ``.xmc-venv``), if any."""
    env = os.environ.get("XMR_XMC_PYTHON")
    exe = Path(env) if env else REPO_ROOT / ".xmc-venv" / "bin" / "python"
    return exe if exe.is_file() else None


def lml_python() -> Path | None:
    """LibMultiLabel's venv interpreter (``$XMR_LML_PYTHON`` or ``.lml-venv``), if any."""
    env = os.environ.get("XMR_LML_PYTHON")
    exe = Path(env) if env else REPO_ROOT / ".lml-venv" / "bin" / "python"
    return exe if exe.is_file() else None


class SideTimeout(Exception):
    """A side ran past ``--side-timeout``; recorded as did-not-finish, the run goes on."""


def _run(cmd: list, what: str, timeout_s: float | None = None) -> None:
    """Run ``cmd`` in a session of its own; at ``timeout_s`` stop it and all its children
    (PECOS's peer workers included) and raise :class:`SideTimeout`."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.DEVNULL,
                                stderr=err, text=True, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop_group(proc)
            raise SideTimeout(f"{what}: did not finish in {timeout_s:.0f} s") from None
        except BaseException:  # Ctrl-C: leave no orphan holding memory
            _stop_group(proc)
            raise
        if rc != 0:
            err.seek(0)
            raise RuntimeError(f"{what} failed (exit {rc}):\n{err.read()[-4000:]}")


def _stop_group(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait_s)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def prepare(n_labels: int, n_test: int, seed: int, folder: Path) -> dict:
    _run([sys.executable, "-m", "benchmarks._scale_worker", "prepare", "--n-labels", n_labels,
          "--n-test", n_test, "--seed", seed, "--dir", folder], f"data for {n_labels} labels")
    return json.loads((folder / "data.json").read_text())


def _metrics(folder: Path, side: str) -> dict:
    from scipy import sparse as sp

    P = sp.load_npz(folder / f"P_{side}.npz").tocsr()
    return accuracy(load_csr(folder / "Y_tst.npz"), P)


def run_side(folder: Path, side: str, timeout_s: float | None = None,
             model: dict | None = None) -> dict:
    """Our side ("xmr") or PECOS's ("pecos") in a worker process of its own; ``model``: the
    model settings (default :data:`benchmarks.common.MODEL`)."""
    settings = folder / f"settings_{side}.json"
    settings.write_text(json.dumps({"model": model or MODEL, "predict": PREDICT,
                                    "n_warmup": N_WARMUP}))
    out = folder / f"result_{side}.json"
    _run([sys.executable, "-m", "benchmarks._scale_worker", side, "--dir", folder,
          "--settings", settings, "--out", out], f"{side} side", timeout_s)
    return json.loads(out.read_text()) | _metrics(folder, side)


def run_xmr(folder: Path, timeout_s: float | None = None, model: dict | None = None) -> dict:
    return run_side(folder, "xmr", timeout_s, model)


def run_pecos(folder: Path, timeout_s: float | None = None, model: dict | None = None) -> dict:
    return run_side(folder, "pecos", timeout_s, model)


def run_peer(folder: Path, lib: str, timeout_s: float | None = None) -> dict:
    exe = xmc_python()
    if exe is None:
        return {"skipped": "no .xmc-venv: run `make xmc-venv` (or set XMR_XMC_PYTHON)"}
    out = folder / f"result_{lib}.json"
    _run([exe, XMC_WORKER, lib, folder, out], f"{lib} side", timeout_s)
    return json.loads(out.read_text()) | _metrics(folder, lib)


def run_lml(folder: Path, method: str, timeout_s: float | None = None,
            settings: dict | None = None) -> dict:
    """LibMultiLabel's ``train_<method>`` ("tree" or "1vsrest") in ``.lml-venv``, on the
    folder's matrices; ``settings``: overrides of ``_lml_worker.DEFAULTS`` (its published
    example settings). A ``{"skipped": reason}`` from the worker (model too large for the
    memory) is returned as is."""
    exe = lml_python()
    if exe is None:
        return {"skipped": "no .lml-venv: run `make lml-venv` (or set XMR_LML_PYTHON)"}
    side = f"lml_{method}"
    out = folder / f"result_{side}.json"
    cmd = [exe, LML_WORKER, method, folder, out]
    if settings:
        path = folder / f"settings_{side}.json"
        path.write_text(json.dumps(settings))
        cmd.append(path)
    _run(cmd, f"{side} side", timeout_s)
    result = json.loads(out.read_text())
    return result if "skipped" in result else result | _metrics(folder, side)


# (folder, timeout_s, model settings) -> the side's figures; Omikuji, napkinXC and
# LibMultiLabel run at their own defaults, so the model settings are ours and PECOS's only
RUNNERS = {"xmr": run_xmr, "pecos": run_pecos,
           "omikuji": lambda f, t=None, m=None: run_peer(f, "omikuji", t),
           "napkinxc": lambda f, t=None, m=None: run_peer(f, "napkinxc", t),
           "lml_tree": lambda f, t=None, m=None: run_lml(f, "tree", t),
           "lml_1vsrest": lambda f, t=None, m=None: run_lml(f, "1vsrest", t)}


def fitted_slope(sizes, values) -> float | None:
    """Least-squares slope of log(value) against log(size); None with < 2 points."""
    pts = [(s, v) for s, v in zip(sizes, values) if v is not None and v > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def measured(entry: dict | None, key: str):
    """``entry[key]`` of a side that finished; None for one skipped or stopped (its peak
    memory then is that of a process that did not train: no point of a curve)."""
    if not entry or "skipped" in entry or "did_not_finish" in entry:
        return None
    return entry.get(key)


def summarise(rows: list[dict], sides) -> dict:
    sizes = [r["n_labels"] for r in rows]
    slopes = {side: {k: fitted_slope(sizes, [measured(r.get(side), k) for r in rows])
                     for k in ("train_s", "peak_mem_mib")} for side in sides}
    return {"slopes": slopes}


def ratios(ours: dict, peer: dict) -> dict:
    if not ours or not peer or "skipped" in peer or "did_not_finish" in peer:
        return {}
    out = {k: ours[k] / peer[k] for k in RATIO_KEYS if ours.get(k) and peer.get(k)}
    for k in ("precision_at_1", "recall_at_10"):
        if k in ours and k in peer:
            out[f"{k}_diff"] = ours[k] - peer[k]
    return out


def markdown_table(result: dict) -> str:
    def fmt(v) -> str:
        return fmt_number(v, sig=3, small_decimals=4)

    sides = result["settings"]["sides"]
    lines = []
    for row in result["sizes"]:
        lines += [f"#### {row['n_labels']:,} labels ({row['data']['n_train']:,} train queries, "
                  f"{row['data']['n_features']:,} features)", "",
                  "| | " + " | ".join(sides) + " | xmr / PECOS |",
                  "|---|" + "---:|" * (len(sides) + 1)]
        for k in KEYS:
            cells = [_cell(row.get(s), k, fmt) for s in sides]
            r = row.get("ratio", {}).get(k)
            lines.append(f"| {k} | " + " | ".join(cells) + f" | {fmt(r)} |")
        lines.append("")
        pairs = row.get("pair_ratios") or {}
        if pairs:  # --repeats: the interleaved rounds' ratios, pair by pair
            lines += ["xmr / other side, train time of each interleaved round: " + "; ".join(
                f"{peer} {', '.join(fmt(v) for v in p['ratios'])} (median {fmt(p['median'])}: "
                f"{pair_verdict(p)})" for peer, p in pairs.items()) + ".", ""]
        skipped = [f"{s}: {row[s]['skipped'].rstrip('.')}" for s in sides
                   if "skipped" in (row.get(s) or {})]
        if skipped:  # why, under the table (its cell only says that it was)
            lines += ["Skipped: " + "; ".join(skipped) + ".", ""]
    lines.append("Fitted log-log slopes (train_s, peak_mem_mib against labels): " + ", ".join(
        f"{s} {fmt(v['train_s'])} / {fmt(v['peak_mem_mib'])}"
        for s, v in result["summary"]["slopes"].items()))
    return "\n".join(lines)


def _cell(entry: dict | None, key: str, fmt) -> str:
    entry = entry or {}
    if "did_not_finish" in entry:  # said once, on the first row
        return f"did not finish in {entry['time_limit_s']:.0f} s" if key == KEYS[0] else "–"
    if "skipped" in entry:
        return "skipped" if key == KEYS[0] else "–"
    reps = [r.get(key) for r in entry.get("repeats", []) if r.get(key) is not None]
    if key in REPEATED_KEYS and len(reps) > 1:  # the median, then the spread of the repeats
        return f"{fmt(entry.get(key))} ({fmt(min(reps))}–{fmt(max(reps))}, n={len(reps)})"
    return fmt(entry.get(key))


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    rows = result["sizes"]
    sizes = [r["n_labels"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "train_s", "train (indexing + training), s"),
                           (axes[1], "peak_mem_mib", "peak memory, MiB")):
        for side in result["settings"]["sides"]:
            vals = [measured(r.get(side), key) for r in rows]
            pts = [(s, v) for s, v in zip(sizes, vals) if v]
            if not pts:
                continue
            slope = result["summary"]["slopes"][side][key]
            tag = f"{side} (slope {slope:.2f})" if slope is not None else side
            ax.plot(*zip(*pts), marker="o", label=tag)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlapped
        ax.set_xticks(sizes, [f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" for n in sizes])
        ax.set_xlabel("labels (training queries = 2 x labels)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # every side skipped: no legend
            ax.legend(fontsize=8)
    fig.suptitle("synthetic product search, word 1-2-gram TF-IDF, B=16, leaf 100, t=0.1")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                   help="numbers of labels (training queries = 2 x labels)")
    p.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    p.add_argument("--n-test", type=int, default=10_000, help="test queries per size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nr-splits", type=int, default=MODEL["nr_splits"], metavar="B",
                   help="branching factor of our and PECOS's label tree (default %(default)s, "
                        "PECOS's; 2 is Omikuji's Parabel tree shape)")
    p.add_argument("--cache-dir", type=Path, default=REPO_ROOT / "bench-results" / "scale-data",
                   help="generated matrices, one folder per size (reused when present)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results" / "scale.json")
    p.add_argument("--figure", type=Path, default=None,
                   help="log-log figure (default: --out with .png)")
    p.add_argument("--repeats", type=int, default=1, metavar="N",
                   help="run the sides N times each, interleaved (the order rotated every "
                        "round); medians and each round's ratios are recorded")
    p.add_argument("--side-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop a side (its whole worker process) after this many seconds and "
                        "record it as did-not-finish; default: no limit")
    p.add_argument("--resume", action="store_true",
                   help="keep the sizes and sides --out already holds (same settings) and run "
                        "only the missing ones (and those stopped at a smaller --side-timeout)")
    p.add_argument("--redo", nargs="+", choices=SIDES, default=[], metavar="SIDE",
                   help="with --resume: run these sides again at --sizes even when --out "
                        "holds them (e.g. after a change to that side's code)")
    args = p.parse_args(argv)
    for name, vals in (("--sizes", args.sizes), ("--n-test", [args.n_test]),
                       ("--nr-splits", [args.nr_splits])):
        bad = [v for v in vals if v < 2]
        if bad:
            p.error(f"{name} must be >= 2, got {bad}")
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.side_timeout is not None and args.side_timeout <= 0:
        p.error(f"--side-timeout must be > 0 seconds, got {args.side_timeout}")
    if args.figure is None:
        args.figure = args.out.with_suffix(".png")
    return args


def _previous(args: argparse.Namespace, settings: dict) -> tuple[dict[int, dict], list[dict]]:
    """``--resume``: the rows of --out by label count and its run records, if it was run with
    the same settings (else nothing)."""
    if not args.resume or not args.out.is_file():
        return {}, []
    old = json.loads(args.out.read_text())
    same = {k: old["settings"].get(k) for k in SAME_SETTINGS} == {
        k: settings[k] for k in SAME_SETTINGS}
    if not same:
        raise SystemExit(f"--resume: {args.out} was run with other settings "
                         f"({ {k: old['settings'].get(k) for k in SAME_SETTINGS} }); "
                         f"use another --out or drop --resume")
    return {r["n_labels"]: r for r in old["sizes"]}, recorded_runs(old)


def _needs_run(entry: dict | None, timeout_s: float | None) -> bool:
    if not entry or "skipped" in entry:
        return True
    if "did_not_finish" in entry:  # rerun when the limit is now larger (or none)
        return timeout_s is None or timeout_s > entry.get("time_limit_s", 0)
    return False


def median_entry(repeats: list[dict]) -> dict:
    """One side's entry from its repeats: the first repeat's figures (accuracy and model size
    do not depend on the run), with the medians of :data:`REPEATED_KEYS` over the repeats
    that finished, and every repeat under ``repeats``. A single run is returned as is; so is
    the first repeat that did not finish or was skipped (the side is not measured)."""
    if len(repeats) == 1:
        return repeats[0]
    for r in repeats:
        if "skipped" in r or "did_not_finish" in r:
            return {**r, "repeats": repeats}
    entry = {**repeats[0], "repeats": repeats}
    for k in REPEATED_KEYS:
        vals = [r[k] for r in repeats if r.get(k) is not None]
        if vals:
            entry[k] = float(np.median(vals))
    return entry


def pair_ratios(entries: dict[str, dict]) -> dict:
    """Per side other than ours: our train time over its train time in each interleaved
    round (repeat i of both), with the median, min and max of those ratios."""
    ours = (entries.get("xmr") or {}).get("repeats") or []
    out = {}
    for side, entry in entries.items():
        theirs = (entry or {}).get("repeats") or []
        if side == "xmr" or not ours or not theirs:
            continue
        ratios = [a["train_s"] / b["train_s"] for a, b in zip(ours, theirs)
                  if a.get("train_s") and b.get("train_s")]
        if ratios:
            out[side] = {"ratios": ratios, "median": float(np.median(ratios)),
                         "min": min(ratios), "max": max(ratios)}
    return out


def pair_verdict(pairs: dict) -> str:
    """"ahead" when our train time was below the other side's in every round, "behind" when
    above in every round, else "level" (the rounds disagree: noise, not a lead)."""
    if pairs["max"] < 1.0:
        return "ahead in every round"
    if pairs["min"] > 1.0:
        return "behind in every round"
    return "level"


def run_repeated(folder: Path, sides: list[str], repeats: int, timeout_s: float | None,
                 model: dict | None = None, on_side=None) -> dict[str, dict]:
    """Every side of ``sides`` ``repeats`` times, interleaved: round r runs them in the order
    rotated by r. ``on_side(side, entry)`` after each side's run (progress). Returns each
    side's :func:`median_entry`."""
    runs: dict[str, list[dict]] = {s: [] for s in sides}
    for r in range(repeats):
        k = r % len(sides)
        for side in sides[k:] + sides[:k]:
            if runs[side] and ("skipped" in runs[side][0] or "did_not_finish" in runs[side][0]):
                continue  # not measured once: not again
            runs[side].append(run_one(folder, side, timeout_s, model))
            if on_side:
                on_side(side, runs[side][-1])
    return {side: median_entry(entries) for side, entries in runs.items()}


def run_one(folder: Path, side: str, timeout_s: float | None,
            model: dict | None = None) -> dict:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        entry = RUNNERS[side](folder, timeout_s, model)
    except SideTimeout as exc:
        entry = {"did_not_finish": str(exc), "time_limit_s": timeout_s}
    entry["wall_s"] = time.perf_counter() - t0
    entry["load_average_before"] = load
    return entry


def _log_side(n_labels: int, side: str, entry: dict) -> None:
    logger.info("%d labels, %s: %s", n_labels, side,
                {k: entry.get(k) for k in KEYS + ("skipped", "did_not_finish") if k in entry})


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    run = start_run("benchmarks.scale", argv)
    args = parse_args(argv)
    sides = [s for s in SIDES if s in args.sides]
    model = {**MODEL, "nr_splits": args.nr_splits}
    settings = {**model, **PREDICT, "sides": sides, "n_test": args.n_test, "seed": args.seed,
                "n_warmup": N_WARMUP, "latency_threads": 1, "side_timeout_s": args.side_timeout}
    if args.repeats > 1:  # absent for one run: the JSONs made before the option read alike
        settings["repeats"] = args.repeats
    rows, earlier_runs = _previous(args, settings)
    if rows:
        settings["sides"] = [s for s in SIDES if s in set(sides) | set(
            k for r in rows.values() for k in r if k in SIDES)]
    # one record per invocation: a resumed JSON holds rows measured by each of them
    result = {"settings": settings, "machine": machine_info(None), "runs": [*earlier_runs, run],
              "sizes": []}

    def write() -> None:
        result["sizes"] = [rows[n] for n in sorted(rows)]
        result["summary"] = summarise(result["sizes"], settings["sides"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    for n_labels in sorted(args.sizes):
        folder = args.cache_dir / f"L{n_labels}"
        row = rows.get(n_labels, {"n_labels": n_labels})
        todo = [s for s in sides
                if s in args.redo or _needs_run(row.get(s), args.side_timeout)]
        if not todo:
            logger.info("%d labels: every side already in %s", n_labels, args.out)
            continue
        t0 = time.perf_counter()
        row["data"] = prepare(n_labels, args.n_test, args.seed, folder)
        logger.info("%d labels: data ready in %.0f s: %s", n_labels, time.perf_counter() - t0,
                    {k: row["data"][k] for k in ("n_train", "n_features", "x_trn_nnz")})
        rows[n_labels] = row
        if args.repeats == 1:
            for side in todo:
                row[side] = run_one(folder, side, args.side_timeout, model)
                _log_side(n_labels, side, row[side])
                row["ratio"] = ratios(row.get("xmr"), row.get("pecos"))
                write()  # after every side
        else:  # written when the size's rounds are done: its medians need every repeat
            row |= run_repeated(folder, todo, args.repeats, args.side_timeout, model,
                                on_side=lambda side, e, n=n_labels: _log_side(n, side, e))
            row["ratio"] = ratios(row.get("xmr"), row.get("pecos"))
            row["pair_ratios"] = pair_ratios({s: row.get(s) for s in SIDES if s in row})
            write()
    for n_labels in rows:
        for side in SIDES:
            (args.cache_dir / f"L{n_labels}" / f"P_{side}.npz").unlink(missing_ok=True)
    finish_run(run)
    write()
    plot(result, args.figure)
    print(markdown_table(result))
    logger.info("wrote %s and %s", args.out, args.figure)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
