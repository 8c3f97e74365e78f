"""Reproduce both papers with one command: every preset the claims table needs, on every
dataset present, at the same seeds, then the claims table.

    python -m experiments.reproduce [paper1|paper2|all] --data-dir DIR [--seeds 0,1,2]
                                    [--quick] [--bundle docs/results/NAME] [--dry-run]
                                    [-o OVERRIDE ...]
    make reproduce [DATA_DIR=../shared/data] [REPRODUCE_ARGS=...]

Each step is one sweep, run as its own process (``python -m experiments.run -m
experiment=<preset> <data> seed=<seeds> paths.data_dir=DIR``), so a crash in one never stops
the others. A dataset whose files are not under the data directory is skipped, with the
reason and the command that would run it. The sweeps skip grid points already FINISHED in the
tracking store (``logger.skip_finished``), so a rerun of the same command completes only
what is missing (after a Ctrl-C, a failure, or a dataset added since). A progress bar counts
the jobs of every step, with an estimate of the time left (from the jobs that ran, not those
skipped). Each step's output goes to ``<paths.log_dir>/reproduce/<step>.log``.

After each sweep, ``python -m experiments.latency --experiment <preset>`` times the models
of each (data, seed) again together, interleaved in one process (≥ 3 repeats), and writes
the times back to the runs; the claims table reads latencies from there (its output goes to
the step's log too; a group already timed is not timed again).

At the end: ``python -m analysis.claims`` writes the claims table (``--out``), with
``reproduce_summary.json`` beside it (per step: jobs run / skipped / failed, trainings, wall
time; no path of this machine); with ``--bundle DIR``, ``python -m analysis.bundle export``
writes the results bundle when that module exists.

``--quick``: the smoke presets (tiny embedded synthetic data, no files needed) in place of
the full ones: the whole path in a few minutes, for the test suite.

Exit codes: 0 every step finished (absent datasets are not failures); 1 a step or the claims
table failed; 2 bad arguments or overrides (nothing ran); 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from experiments.outcome import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

REPO = Path(__file__).resolve().parents[1]
PAPERS = ("paper1", "paper2")
DEFAULT_SEEDS = (0, 1, 2)  # every preset at three seeds (issue 25)
QUICK_SEEDS = (0, 1)  # --quick: two seeds, enough for the intervals' code path
SUMMARY_FILE = "reproduce_summary.json"
PEER_PRESETS = ("paper1_comparison", "smoke_paper1")  # presets with a model=pecos point


@dataclass(frozen=True)
class Dataset:
    """A dataset a step runs on: its overrides and the files that must be present."""

    name: str  # as shown in messages (and in the claims table's dataset column)
    overrides: tuple[str, ...]
    files: tuple[str, ...] = ()  # glob patterns under the data folder; () = embedded data
    how_to_obtain: str = ""

    def missing(self, data_dir: Path) -> str | None:
        """Why the dataset cannot run from ``data_dir`` (None: it can)."""
        if not self.files or any(any(p.is_file() for p in data_dir.glob(pattern))
                                 for pattern in self.files):
            return None
        return (f"no file matching {' or '.join(self.files)} under the data folder"
                + (f" ({self.how_to_obtain})" if self.how_to_obtain else ""))


@dataclass(frozen=True)
class Step:
    """One sweep: a preset of ``conf/experiment/`` on one dataset."""

    paper: str  # "paper1" or "paper2"
    preset: str
    dataset: Dataset
    overrides: tuple[str, ...] = ()  # on top of the preset's (fewer points in --quick)

    @property
    def label(self) -> str:
        return f"{self.preset} on {self.dataset.name}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_]+", "_", f"{self.preset}-{self.dataset.name}").strip("_")


def _datasets() -> dict[str, Dataset]:
    from xmr.datasets import aol, homedepot

    return {
        # paper 1's protocol on Home Depot: every product title is also a training input
        "homedepot": Dataset("homedepot", ("data=homedepot", "data.options.title_as_input=true"),
                             homedepot.PATTERNS, "Kaggle Home Depot train.csv"),
        "aol": Dataset("aol", ("data=aol",), aol.AOLConfig().files, aol.HOW_TO_OBTAIN),
        # pipeline checks on our own generators (demo size)
        "synthetic_products": Dataset("synthetic_products (demo)", ("data=synthetic_products",)),
        "synthetic_qac": Dataset("synthetic_qac (demo)", ("data=synthetic_qac",)),
        # the smoke presets' own tiny synthetic data
        "smoke": Dataset("tiny synthetic data", ()),
    }


def plan(*, quick: bool) -> list[Step]:
    """Every step, in order: each claim family's full preset on every dataset the claims are
    read on (``--quick``: its smoke variant on tiny synthetic data; see
    :data:`analysis.claims.FAMILIES`)."""
    d = _datasets()
    if quick:  # smoke's grid cut to its claims' features and beam (2 thresholds)
        return [Step("paper1", "smoke_paper1", d["smoke"]),
                Step("paper1", "smoke", d["smoke"], ("features=all", "eval.beam_size=10")),
                Step("paper2", "smoke_qac", d["smoke"]),
                Step("paper2", "smoke_qac_comparison", d["smoke"])]
    # cheapest first within each paper: a run stopped part-way (a session's end, Ctrl-C)
    # has complete claim families to show, and resumes with the long tuned comparisons
    return [Step("paper1", "product_search", d["homedepot"]),
            Step("paper1", "paper1_comparison", d["synthetic_products"]),
            Step("paper1", "paper1_comparison", d["homedepot"]),
            Step("paper2", "qac_table2", d["aol"]),
            Step("paper2", "qac_comparison", d["synthetic_qac"]),
            Step("paper2", "qac_comparison", d["aol"])]


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` → (0, 1, 2); distinct non-negative integers."""
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds must be comma-separated integers >= 0 (e.g. 0,1,2), got {text!r}") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(
            f"--seeds must be distinct integers >= 0 (e.g. 0,1,2), got {text!r}")
    return seeds


def step_overrides(step: Step, seeds: tuple[int, ...], data_dir: Path,
                   extra: list[str]) -> list[str]:
    """The Hydra overrides of a step's sweep (``extra`` last: the user's word wins)."""
    return [f"experiment={step.preset}", *step.dataset.overrides, *step.overrides,
            f"seed={','.join(map(str, seeds))}", f"paths.data_dir={data_dir}", *extra]


def command(overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "experiments.run", "-m", *overrides]


def shown(cmd: list[str]) -> str:
    """A command as a person would type it (``python``, not this interpreter's path)."""
    return shlex.join(["python", *cmd[1:]])


def count_jobs(overrides: list[str]) -> int:
    """Grid points of a sweep: the preset's ``hydra.sweeper.params`` with the command line's
    values in place of its own (a swept key set to one value counts once)."""
    from hydra import compose, initialize_config_dir

    from experiments.overrides import CONF_DIR, _first_values, _swept_values
    from experiments.schema import register_configs

    register_configs()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=_first_values(overrides), return_hydra_config=True)
    return math.prod(len(v) for v in _swept_values(overrides, cfg).values())


def resolved_paths(extra: list[str]) -> tuple[Path, Path, str]:
    """(data folder, log folder, tracking URI) the sweeps will use under ``extra``."""
    from hydra import compose, initialize_config_dir

    from experiments.overrides import CONF_DIR, _first_values
    from experiments.schema import register_configs
    from experiments.tracking import tracking_uri

    register_configs()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=_first_values(extra))
    log_dir = Path(cfg.paths.log_dir)
    return Path(cfg.paths.data_dir), log_dir, tracking_uri(cfg.logger.tracking_uri,
                                                           str(log_dir))


# ------------------------------------------------------------------------ running
# a job's closing line (experiments/job.py): "[job N] <metrics> | point", "[job N] skipped,
# already FINISHED ...", "[job N] FAILED: ..."
_JOB_LINE = re.compile(r"^\[job \d+\] (?P<rest>.*)")
_SWEEP_DONE = re.compile(r"^sweep done: (?P<jobs>\d+) jobs, (?P<finished>\d+) finished, "
                         r"(?P<failed>\d+) failed, (?P<skipped>\d+) skipped.*?"
                         r"(?P<trainings>\d+) trainings")


@dataclass
class StepResult:
    preset: str
    dataset: str
    status: str  # "done", "failed", "absent", "interrupted"
    n_jobs: int = 0
    ran: int = 0  # jobs that ran (finished or failed)
    skipped: int = 0  # already FINISHED in the store
    failed: int = 0
    trainings: int | None = None  # models trained (None: the sweep did not say)
    wall_s: float = 0.0
    reason: str = ""  # absent: why
    exit_code: int | None = None
    latency_exit_code: int | None = None  # the interleaved timing after the sweep


@dataclass
class Clock:
    """Seconds per job that ran (skipped jobs take no time), for the time-left estimate."""

    seconds: float = 0.0
    jobs: int = 0
    step_seconds: float = 0.0
    step_jobs: int = 0
    last: float = field(default_factory=time.perf_counter)

    def start_step(self) -> None:
        self.step_seconds, self.step_jobs, self.last = 0.0, 0, time.perf_counter()

    def job_done(self, skipped: bool) -> None:
        now = time.perf_counter()
        if not skipped:  # the data preparation of a step counts towards its first job
            self.seconds += now - self.last
            self.jobs += 1
            self.step_seconds += now - self.last
            self.step_jobs += 1
        self.last = now

    def left(self, step_left: int, later_jobs: int) -> float | None:
        """Seconds left: this step's jobs at its own rate, later steps at the overall rate
        (None before any job ran)."""
        if not self.jobs:
            return None
        rate = self.seconds / self.jobs
        step_rate = self.step_seconds / self.step_jobs if self.step_jobs else rate
        return step_left * step_rate + later_jobs * rate


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s" if m else f"{s} s"


def _env() -> dict[str, str]:
    """The sweeps import this repository from any folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_step(step: Step, cmd: list[str], n_jobs: int, later_jobs: int, log_file: Path, bar,
             clock: Clock) -> StepResult:
    """Run one sweep, its output to ``log_file``; the bar advances per job."""
    result = StepResult(step.preset, step.dataset.name, "done", n_jobs=n_jobs)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    clock.start_step()
    t0 = time.perf_counter()
    seen = 0
    with open(log_file, "w") as log, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
            bufsize=1) as proc:
        log.write(f"$ {shown(cmd)}\n")
        try:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if m := _JOB_LINE.match(line):
                    rest = m["rest"]
                    skipped = rest.startswith("skipped")
                    result.skipped += skipped
                    result.ran += not skipped
                    result.failed += rest.startswith("FAILED")
                    if rest.startswith("FAILED"):
                        bar.write(f"  {line.rstrip()}")
                    clock.job_done(skipped)
                    seen += 1
                    if seen <= n_jobs:
                        bar.update(1)
                    left = clock.left(max(n_jobs - seen, 0), later_jobs)
                    bar.set_postfix_str(f"{step.preset}, time left ~{duration(left)}")
                elif m := _SWEEP_DONE.match(line):  # the sweep's own count is the truth
                    result.n_jobs = int(m["jobs"])
                    result.skipped, result.failed = int(m["skipped"]), int(m["failed"])
                    result.ran = int(m["finished"]) + result.failed
                    result.trainings = int(m["trainings"])
            result.exit_code = proc.wait()
        except KeyboardInterrupt:  # the sweep got the Ctrl-C too: let it close its runs
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.terminate()
            result.status = "interrupted"
    if seen < n_jobs:  # jobs that never printed (crash): keep the bar's total right
        bar.update(n_jobs - seen)
    result.wall_s = time.perf_counter() - t0
    if result.exit_code == EXIT_INTERRUPTED:  # a signal to the sweep alone
        result.status = "interrupted"
    elif result.status != "interrupted" and result.exit_code != 0:
        result.status = "failed"
    return result


def latency_step(preset: str, uri: str, log_file: Path, *, settle: bool = True) -> int:
    """``python -m experiments.latency`` on the preset's runs (the compared models timed
    again together, interleaved in one process, once the training's load has decayed unless
    ``settle`` is False), its output appended to the step's log."""
    cmd = [sys.executable, "-m", "experiments.latency", "--experiment", preset,
           "--tracking-uri", uri, *([] if settle else ["--settle", "0"])]
    with open(log_file, "a") as log:
        log.write(f"$ {shown(cmd)}\n")
        log.flush()
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env()).returncode


def _tqdm(total: int, disable: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="job", desc="reproduce", disable=disable, dynamic_ncols=True)


def write_summary(path: Path, results: list[StepResult], *, target: str, quick: bool,
                  seeds: tuple[int, ...], wall_s: float) -> None:
    """``reproduce_summary.json``: what each step did and cost (no path of this machine)."""
    from experiments.code_version import code_version
    from experiments.results import cpu_count

    steps = [asdict(r) for r in results]
    path.parent.mkdir(parents=True, exist_ok=True)
    for step in steps:
        step["wall_s"] = round(step["wall_s"], 1)
    path.write_text(json.dumps({
        "target": target, "quick": quick, "seeds": list(seeds), "code_version": code_version(),
        "cpu_count": cpu_count(), "wall_s": round(wall_s, 1), "steps": steps}, indent=2) + "\n")


def _run(cmd: list[str], what: str) -> int:
    print(f"{what}: {shown(cmd)}", flush=True)
    return subprocess.run(cmd, env=_env()).returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m experiments.reproduce", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 done; 1 a step or the claims table failed; 2 bad arguments; "
               "130 interrupted (rerun the same command to resume)")
    p.add_argument("target", nargs="?", default="all", choices=(*PAPERS, "all"),
                   help="which paper's claims (default: all)")
    p.add_argument("--data-dir", default=None,
                   help="folder holding the datasets (homedepot/, aol/, ...); default: the "
                        "config's paths.data_dir ($XMR_DATA_DIR, else ./data)")
    p.add_argument("--seeds", type=parse_seeds, default=None,
                   help="seeds of every preset (default: 0,1,2; with --quick 0,1)")
    p.add_argument("--quick", action="store_true",
                   help="the smoke presets on tiny synthetic data: the whole path, fast")
    p.add_argument("--out", type=Path, default=None,
                   help="folder of the claims table (default: analysis.claims' own)")
    p.add_argument("--bundle", type=Path, default=None, metavar="DIR",
                   help="also export the results bundle there (python -m analysis.bundle)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="passed to the claims table and the bundle: accept runs from several "
                        "code versions or a dirty tree")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="a Hydra override for every sweep (repeatable), e.g. "
                        "-o paths.log_dir=/tmp/logs -o hydra/launcher=local_parallel")
    p.add_argument("--dry-run", action="store_true",
                   help="print the steps and their commands, run nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.seeds is None:
        args.seeds = QUICK_SEEDS if args.quick else DEFAULT_SEEDS

    from experiments.overrides import check_overrides

    problems = check_overrides(args.override)
    if problems:
        print("Error: bad override:\n" + "\n".join(problems), file=sys.stderr)
        return EXIT_USAGE
    conf_data_dir, log_dir, uri = resolved_paths(args.override)
    data_dir = Path(args.data_dir) if args.data_dir is not None else conf_data_dir
    if args.data_dir is not None and not data_dir.is_dir() and not args.quick:
        print(f"Error: --data-dir {data_dir} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    data_dir = data_dir.resolve()
    papers = PAPERS if args.target == "all" else (args.target,)
    steps = [s for s in plan(quick=args.quick) if s.paper in papers]

    todo: list[tuple[Step, list[str], int]] = []
    results: list[StepResult] = []
    for step in steps:
        overrides = step_overrides(step, args.seeds, data_dir, args.override)
        cmd = command(overrides)
        why = step.dataset.missing(data_dir)
        if why is not None:
            results.append(StepResult(step.preset, step.dataset.name, "absent", reason=why))
            print(f"skip {step.label}: {why} {data_dir}\n  to run it: {shown(cmd)}",
                  flush=True)
            continue
        todo.append((step, cmd, count_jobs(overrides)))
    if any(s.preset in PEER_PRESETS for s, _, _ in todo):
        from baselines.pecos_peer import find_peer_python

        if find_peer_python() is None:
            print("warning: the PECOS peer is not installed (`make peer`, or set "
                  "XMR_PEER_PYTHON): the pecos runs will fail", file=sys.stderr, flush=True)
    total = sum(n for _, _, n in todo)
    print(f"{len(todo)} sweeps, {total} jobs (seeds {','.join(map(str, args.seeds))}); "
          f"runs in {uri}", flush=True)
    for step, cmd, n in todo:
        print(f"  {step.label}: {n} jobs — {shown(cmd)}", flush=True)
    if args.dry_run:
        return EXIT_OK

    t0 = time.perf_counter()
    clock = Clock()
    code = EXIT_OK
    bar = _tqdm(total, args.no_progress)
    try:
        for i, (step, cmd, n) in enumerate(todo):
            later = sum(m for _, _, m in todo[i + 1:])
            log_file = log_dir / "reproduce" / f"{step.slug}.log"
            bar.write(f"{step.label}: {n} jobs (output: {log_file})")
            r = run_step(step, cmd, n, later, log_file, bar, clock)
            results.append(r)
            trained = "" if r.trainings is None else f", {r.trainings} trainings"
            bar.write(f"  {r.status} in {duration(r.wall_s)}: {r.ran} ran, {r.skipped} skipped "
                      f"(already finished), {r.failed} failed{trained}")
            if r.status == "interrupted":
                code = EXIT_INTERRUPTED
                break
            # after its sweep, before the claims table: the compared models timed together
            # (--quick: the tiny models' timing is not evidence, so no wait for a quiet machine)
            r.latency_exit_code = latency_step(step.preset, uri, log_file,
                                               settle=not args.quick)
            if r.latency_exit_code != 0:
                bar.write(f"  interleaved latency failed (exit code {r.latency_exit_code}); "
                          f"see {log_file}")
                code = EXIT_FAILED  # (a Ctrl-C reaches this process too: handled below)
            if r.status == "failed":
                bar.write(f"  exit code {r.exit_code}; see {log_file}")
                code = EXIT_FAILED
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    if code == EXIT_INTERRUPTED:
        print("interrupted: finished jobs are kept; rerun the same command to complete only "
              "what is missing", file=sys.stderr, flush=True)
        return code

    mixed = ["--allow-mixed"] if args.allow_mixed else []
    claims = [sys.executable, "-m", "analysis.claims", "--tracking-uri", uri, *mixed,
              *(["--out", str(args.out)] if args.out is not None else [])]
    if _run(claims, "claims table") != 0:
        code = EXIT_FAILED
    from analysis.common import DEFAULT_OUT

    write_summary((args.out or DEFAULT_OUT) / SUMMARY_FILE, results, target=args.target,
                  quick=args.quick, seeds=args.seeds, wall_s=wall)
    if args.bundle is not None:
        if importlib.util.find_spec("analysis.bundle") is None:
            print(f"no bundle written to {args.bundle}: analysis.bundle is not available in "
                  "this version", flush=True)
        elif _run([sys.executable, "-m", "analysis.bundle", "export", "--out",
                   str(args.bundle), "--tracking-uri", uri, *mixed], "results bundle") != 0:
            code = EXIT_FAILED
    absent = [r for r in results if r.status == "absent"]
    print(f"done in {duration(wall)}: " + ", ".join(
        f"{r.preset}/{r.dataset} {r.status}" for r in results)
        + (f"; {len(absent)} skipped for want of data (see above)" if absent else ""),
        flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
