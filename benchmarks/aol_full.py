"""The full AOL log on one machine: time and peak memory of every stage, latency at that
label count.

    python -m benchmarks.aol_full --log-dir ../aol-full --out bench-results/aol_full.json
    python -m benchmarks.aol_full --log-dir ../aol-1pct --scale 0.01      # a quick run
    python -m benchmarks.aol_full --log-dir ../aol-full --user-fraction 0.1  # a tenth of the
                                                                             # users of a log

The paper ran on the whole AOL release (10 files, 36,389,567 rows, 657,426 users). Steps:

1. **generate** a synthetic log of that size and shape
   (:func:`xmr.datasets.aol.write_synthetic_aol_log`; ``--scale`` shrinks rows and users
   alike; files already complete are kept, so an interrupted run resumes);
2. **prepare** it with the harness's own command, ``python -m experiments.prepare data=aol``
   (read, sessions, splits, prefixes, the dataset cache), in its own process;
3. **Table 2 row 9 (the trie) and row 7 (the trie-tree hybrid)**, each in its own process
   (``benchmarks._aol_full_worker``): the row's config from ``conf/``, trained as a sweep
   trains it, every test request answered in a batch (MRR@10), then timed one request at a
   time on one thread (the harness's latency protocol) against the paper's 10 ms.

Per step: wall time and the process's peak resident set (``wait4``); per stage inside a row
(training matrix, featurise, label embedding, index, train, batch suggest, latency): time and
peak resident set during the stage (:mod:`experiments.stages`). A step that runs past
``--timeout`` is stopped and recorded as such; one that fails (an exception, the kernel's
out-of-memory kill) is recorded with its exit status and its last lines, and the run goes on.
The result JSON is written after every step (``--resume`` keeps the steps it already holds
for the same settings); ``python -m benchmarks.report aol_full JSON`` renders it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._aol_full_worker import STAGE_KEY, data_overrides
from benchmarks.common import (
    finish_run,
    machine_info,
    short_commit,
    start_measurement,
    start_run,
    time_window,
)
from xmr.datasets.aol import (
    AOL_RELEASE_FILES,
    AOL_RELEASE_ROWS,
    AOL_RELEASE_USERS,
    GENERATOR_VERSION,
    GENERATOR_VERSIONS,
    synthetic_log_complete,
)

PAPER_LATENCY_MS = 10.0  # "trie and hybrid both answer under 10 ms" (Paper 2)
MEMORY_TARGET_GIB = 16.0  # issue 23: the whole pipeline within 16 GB on a 24 GB machine
ROWS = ("9", "7")


def run_measured(cmd: list[str], *, timeout_s: float, env: dict | None = None) -> dict:
    """Run ``cmd`` to its end (or ``timeout_s``): exit status, wall seconds, the process's
    peak resident set (MiB, from ``wait4``), its stdout and the tail of its stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - t0 > timeout_s:
                    proc.kill()
                    timed_out = True
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.2)
        except BaseException:  # this run stopped (Ctrl-C, a kill): no orphan measuring on
            proc.kill()        # beside the next run
            os.wait4(proc.pid, 0)
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr_tail = err.read().decode("utf-8", "replace").splitlines()[-15:]
    return {"returncode": proc.returncode, "timed_out": timed_out,
            "seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "stdout": stdout, "stderr_tail": stderr_tail}


def _outcome(m: dict, timeout_s: float) -> str:
    if m["timed_out"]:
        return f"stopped after the {timeout_s:.0f} s time-out"
    if m["returncode"] == -9:
        return "killed (signal 9: the kernel's out-of-memory killer, most likely)"
    if m["returncode"] != 0:
        return f"failed (exit status {m['returncode']})"
    return "ok"


def _env() -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _cache_args(cache_dir: Path | None) -> list[str]:
    return ["--cache-dir", str(cache_dir)] if cache_dir else []


PER_RUN = ("qac_rows", "timeout_s")  # settings a resumed run may change: not what a
# finished step measured


def generate(log_dir: Path, n_rows: int, n_users: int, n_files: int, generator: int,
             timeout_s: float) -> dict:
    """Write the synthetic log (generator version ``generator``) in its own process (its peak
    memory measured like every step's); files a previous run completed are kept."""
    kept = synthetic_log_complete(log_dir, n_rows, n_users, n_files, seed=0,
                                  generator=generator)
    code = ("import sys; from pathlib import Path; "
            "from xmr.datasets.aol import write_synthetic_aol_log; "
            "write_synthetic_aol_log(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), "
            "int(sys.argv[4]), seed=0, generator=int(sys.argv[5]))")
    m = run_measured([sys.executable, "-c", code, str(log_dir), str(n_rows), str(n_users),
                      str(n_files), str(generator)], timeout_s=timeout_s, env=_env())
    outcome = _outcome(m, timeout_s)
    step = {"step": "generate", "seconds": m["seconds"], "peak_rss_mib": m["peak_rss_mib"],
            "outcome": "ok (files kept from an earlier run)" if kept and outcome == "ok"
            else outcome}
    if outcome != "ok":
        step["stderr_tail"] = m["stderr_tail"]
    return step


def prepare(log_dir: Path, user_fraction: float, cache_dir: Path | None, work: Path,
            timeout_s: float) -> dict:
    data = data_overrides(str(log_dir), user_fraction, cache_dir and str(cache_dir))
    cmd = [sys.executable, "-m", "experiments.prepare", *data,
           f"hydra.run.dir={work / 'prepare'}"]
    m = run_measured(cmd, timeout_s=timeout_s, env=_env())
    step = {"step": "prepare", "outcome": _outcome(m, timeout_s), "seconds": m["seconds"],
            "peak_rss_mib": m["peak_rss_mib"]}
    if step["outcome"] == "ok" and any(line.startswith("cache hit")
                                       for line in m["stdout"].splitlines()):
        step["outcome"] = "ok (cache hit: prepared by an earlier run, only loaded)"
    card_path = work / "prepare" / "dataset_card.json"
    if step["outcome"] == "ok" and card_path.is_file():
        card = json.loads(card_path.read_text())
        info = card.get("info", {})
        step["dataset"] = {k: info.get(k) for k in ("rows_read", "events", "users",
                                                     "sessions", "pairs", "pairs_total",
                                                     "unique_next_queries", "seconds")}
        step["dataset"]["labels"] = card.get("n_labels", info.get("unique_next_queries"))
    else:
        step["stderr_tail"] = m["stderr_tail"]
    return step


def row_step(row: str, log_dir: Path, user_fraction: float, cache_dir: Path | None,
             timeout_s: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks._aol_full_worker", "--row", row,
           "--data-dir", str(log_dir), "--user-fraction", str(user_fraction),
           *_cache_args(cache_dir)]
    m = run_measured(cmd, timeout_s=timeout_s, env=_env())
    step = {"step": f"row {row}", "outcome": _outcome(m, timeout_s), "seconds": m["seconds"],
            "peak_rss_mib": m["peak_rss_mib"]}
    printed = _json_lines(m["stdout"])
    finished = [d[STAGE_KEY] for d in printed if STAGE_KEY in d]
    if finished:  # what a step stopped part-way had done (the whole result replaces it)
        step["stages"] = finished
    result = [d for d in printed if STAGE_KEY not in d]
    if step["outcome"] == "ok" and result:
        step |= result[-1]
    # the stages reset the kernel's high-water mark, which wait4's figure is read from
    step["peak_rss_mib"] = max([m["peak_rss_mib"], *(st["peak_rss_mib"]
                                                      for st in step.get("stages", []))])
    if step["outcome"] == "ok" and result:
        lat = step["latency"]
        step["under_paper_latency"] = bool(lat["latency_p99_ms"] < PAPER_LATENCY_MS)
    else:
        step["stderr_tail"] = m["stderr_tail"]
    return step


def _json_lines(stdout: str) -> list[dict]:
    """The JSON objects a worker printed, one per line; a line cut by a kill is skipped."""
    found = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def _when(measured: dict | None) -> str:
    """A step's time window (UTC), code commit and 1-minute load, from its ``measured``."""
    if not measured:
        return "(not recorded: measured before steps recorded it)"
    window = time_window(measured["started_utc"], measured["finished_utc"])
    commit = short_commit(measured.get("commit")) or "?"
    return (f"{window}, commit `{commit}`, load "
            f"{measured['load_average_start'][0]:.2f} → {measured['load_average_end'][0]:.2f}")


def markdown_table(result: dict) -> str:
    """Stage, time, peak memory per step; then the rows' latency against the paper's 10 ms
    (`benchmarks.report` renders it)."""
    s = result["settings"]
    lines = [f"Log: {s['rows']:,} rows, {s['users']:,} users, {s['files']} files"
             + (f", users kept {s['user_fraction']:.0%}" if s["user_fraction"] < 1 else "")
             + f" (scale {s['scale']:g} of the AOL release), synthetic generator "
             + f"{s.get('generator', 1)}.", "",
             "| step | stage | time s | peak memory GiB |", "|---|---|---|---|"]
    for step in result["steps"]:
        peak = step.get("peak_rss_mib")
        lines.append(f"| {step['step']} | whole step ({step['outcome']}) | "
                     f"{step['seconds']:,.1f} | "
                     f"{'–' if peak is None else f'{peak / 1024:.2f}'} |")
        for st in step.get("stages", []):
            if st["stage"] == "fit (all of it)":
                continue  # its inner stages are listed
            name = st["stage"] + (" (raised: did not finish)" if st.get("failed") else "")
            lines.append(f"| {step['step']} | {name} | {st['seconds']:,.1f} | "
                         f"{st['peak_rss_mib'] / 1024:.2f} |")
    rows = [st for st in result["steps"] if "latency" in st]
    if rows:
        lines += ["", "| row | labels | train pairs | test requests | MRR@10 | p50 ms | p99 ms "
                  f"| p99 < {PAPER_LATENCY_MS:g} ms |", "|---|---|---|---|---|---|---|---|"]
        for st in rows:
            lat = st["latency"]
            lines.append(f"| {st['row']} | {st['n_labels']:,} | {st['n_train_pairs']:,} | "
                         f"{st['n_test_requests']:,} | {st['mrr_at_10']:.4f} | "
                         f"{lat['latency_p50_ms']:.3f} | {lat['latency_p99_ms']:.3f} | "
                         f"{'yes' if st['under_paper_latency'] else 'no'} |")
    lines += ["", "When each step was measured: " + "; ".join(
        f"{st['step']} {_when(st.get('measured'))}" for st in result["steps"]) + "."]
    peak = max((st.get("peak_rss_mib") or 0 for st in result["steps"]), default=0) / 1024
    complete = (all(st["outcome"].startswith("ok") for st in result["steps"])
                and {f"row {r}" for r in s["qac_rows"]} <= {st["step"] for st in result["steps"]})
    verdict = ("met" if peak <= MEMORY_TARGET_GIB else "not met") if complete else (
        "not decided: not every step finished")
    lines += ["", f"Largest peak of a step: {peak:.2f} GiB, Table 2 row(s) "
              f"{', '.join(s['qac_rows'])} (target ≤ {MEMORY_TARGET_GIB:g} GiB: {verdict})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.aol_full",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--log-dir", type=Path, required=True,
                   help="where the synthetic log is written (kept: a rerun reuses it)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="rows and users as a share of the release's (default 1: full size)")
    p.add_argument("--files", type=int, default=AOL_RELEASE_FILES)
    p.add_argument("--generator", type=int, default=GENERATOR_VERSION,
                   choices=GENERATOR_VERSIONS,
                   help="the synthetic log's generator version (default: the current, "
                        "%(default)s; 1 re-makes the logs measured before version 2)")
    p.add_argument("--user-fraction", type=float, default=1.0,
                   help="the loader keeps this share of the users (AOLConfig.user_fraction)")
    p.add_argument("--rows", nargs="+", default=list(ROWS), dest="qac_rows",
                   help="Table 2 rows (9: trie, 7: trie-tree hybrid)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="the preparation cache (default: the harness's paths.cache_dir)")
    p.add_argument("--timeout", type=float, default=3 * 3600, help="seconds per step")
    p.add_argument("--out", type=Path, default=Path("bench-results/aol_full.json"))
    p.add_argument("--resume", action="store_true",
                   help="keep the steps --out already holds for the same settings")
    args = p.parse_args(argv)
    if not 0 < args.scale <= 1:
        p.error(f"--scale must be in (0, 1], got {args.scale}")
    if not 0 < args.user_fraction <= 1:
        p.error(f"--user-fraction must be in (0, 1], got {args.user_fraction}")
    n_rows = max(1000, round(AOL_RELEASE_ROWS * args.scale))
    n_users = max(args.files, round(AOL_RELEASE_USERS * args.scale))
    settings = {"rows": n_rows, "users": n_users, "files": args.files, "scale": args.scale,
                "user_fraction": args.user_fraction, "seed": 0, "qac_rows": args.qac_rows,
                "timeout_s": args.timeout, "generator": args.generator}
    result = {"benchmark": "aol_full", "settings": settings, "machine": machine_info(None),
              "paper_latency_ms": PAPER_LATENCY_MS, "memory_target_gib": MEMORY_TARGET_GIB,
              "steps": [], "runs": []}
    old_machine = None
    if args.resume and args.out.is_file():
        old = json.loads(args.out.read_text())
        old_machine, old_settings = old.get("machine"), old.get("settings", {})
        differ = sorted(k for k in {*settings, *old_settings} - set(PER_RUN)
                        if old_settings.get(k) != settings.get(k))
        if differ:  # resuming would overwrite what --out holds: refuse, say what differs
            p.error(f"--resume: {args.out} was measured with other settings "
                    + ", ".join(f"{k}={old_settings.get(k)!r} (now {settings.get(k)!r})"
                                for k in differ)
                    + "; run with those settings, or give another --out")
        # a step that did not finish is kept (its stages say how far it got) and run again
        result["steps"] = old["steps"]
        result["runs"] = old.get("runs", [])
        rows = old_settings["qac_rows"]  # the rows of every run, in their order
        settings["qac_rows"] = [*rows, *(r for r in args.qac_rows if r not in rows)]
    done = {s["step"] for s in result["steps"] if s["outcome"].startswith("ok")}

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    # the run's record is written first and completed at the end: a run stopped part-way
    # (a kill, a session's end) still says what it was; every step carries its own times,
    # commit and load (a resumed JSON holds steps of several runs)
    result["runs"].append(start_run("benchmarks.aol_full", argv))
    if args.resume and old_machine not in (None, result["machine"]):
        # steps measured on another machine (or another stack): the earlier one is kept
        result["runs"][-1]["machine"], result["machine"] = result["machine"], old_machine
    save()

    def add(measure, *step_args) -> None:
        when = start_measurement(ignore=(args.out,))  # the run's record is written first
        step = measure(*step_args)
        step["measured"] = finish_run(when)
        result["steps"] = [s for s in result["steps"] if s["step"] != step["step"]] + [step]
        print(f"{step['step']}: {step['outcome']}, {step['seconds']:,.1f} s, peak "
              f"{(step.get('peak_rss_mib') or math.nan) / 1024:.2f} GiB", flush=True)
        save()

    if "generate" not in done:
        add(generate, args.log_dir, n_rows, n_users, args.files, args.generator, args.timeout)
    with tempfile.TemporaryDirectory() as tmp:
        if "prepare" not in done:
            add(prepare, args.log_dir, args.user_fraction, args.cache_dir, Path(tmp),
                args.timeout)
    if "prepare" in {s["step"] for s in result["steps"] if s["outcome"].startswith("ok")}:
        for row in args.qac_rows:
            if f"row {row}" not in done:
                add(row_step, row, args.log_dir, args.user_fraction, args.cache_dir,
                    args.timeout)
    finish_run(result["runs"][-1])
    save()
    print(markdown_table(result))
    print(f"wrote {args.out}")
    return result


def all_ok(result: dict) -> bool:
    """Every step finished (the exit status says so: 0, else 1)."""
    return all(step["outcome"].startswith("ok") for step in result["steps"])


if __name__ == "__main__":
    sys.exit(0 if all_ok(main()) else 1)
