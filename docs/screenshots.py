"""Screenshots of the MLflow UI in a real (headless) Chromium: the comparison's runs table as
the link of ``make ui`` opens it, and MLflow's side-by-side comparison of its two best runs.

    python docs/screenshots.py [--log-dir logs] [--experiment demo] [--out docs]
    (make screenshots; needs the Debian packages chromium and nodejs)

Starts a real ``mlflow server`` over the store on a free port, a headless Chromium with a fresh
profile and its DevTools port, and drives it with ``docs/cdp_screenshot.mjs`` (Node, no
dependency). Writes ``<out>/mlflow_runs_table.png`` and ``<out>/mlflow_compare_runs.png``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from experiments import mlflow_ui
from experiments.tasks import get_task
from experiments.tools import ui

HERE = Path(__file__).resolve().parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
TABLE_SIZE, COMPARE_SIZE = "2300x1080", "1920x1900"  # the comparison page is long
# on the comparison page: "Show diff only" on (the parameters that differ)
DIFF_ONLY = "document.querySelectorAll('[role=switch]').forEach(e => e.click())"


def best_runs(uri: str, experiment: str) -> tuple[str, list]:
    """(experiment id, [its best grid-point run by the primary metric, the best one with
    other features (the paper's feature comparison), else the second best])."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = [e.name for e in client.search_experiments()]
        raise SystemExit(f"no MLflow experiment {experiment!r} in {uri} (there: {names}); run "
                         f"`make demo` first")
    runs = client.search_runs([exp.experiment_id],
                              filter_string=f"tags.role = '{mlflow_ui.GRID_POINT_ROLE}'",
                              max_results=1000)
    task = runs[0].data.tags.get("task", "xmr") if runs else "xmr"
    key = get_task(task).headline
    runs = sorted(runs, key=lambda r: r.data.metrics.get(key, float("-inf")), reverse=True)
    if not runs:
        return exp.experiment_id, []
    features = runs[0].data.params.get("features.name")
    other = [r for r in runs[1:] if r.data.params.get("features.name") != features]
    return exp.experiment_id, [runs[0], *(other or runs[1:])[:1]]


def chromium_devtools(profile: Path) -> tuple[subprocess.Popen, str]:
    """A headless Chromium on about:blank and the http address of its DevTools."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("no chromium: apt-get update && apt-get install -y chromium")
    proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                             "--remote-debugging-port=0", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    for _ in range(120):
        if port_file.is_file() and port_file.read_text().strip():
            return proc, f"http://127.0.0.1:{port_file.read_text().split()[0]}"
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("chromium did not open its DevTools port")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--log-dir", default="logs")
    p.add_argument("--experiment", default="demo", help="MLflow experiment (default: demo)")
    p.add_argument("--out", type=Path, default=HERE)
    args = p.parse_args(argv)
    uri = f"sqlite:///{(Path(args.log_dir).resolve() / 'mlflow.db')}"
    exp_id, best = best_runs(uri, args.experiment)
    if len(best) < 2:
        raise SystemExit(f"experiment {args.experiment!r} has fewer than two grid-point runs")
    node = shutil.which("node")
    if node is None:
        raise SystemExit("no node: apt-get install -y nodejs")
    args.out.mkdir(parents=True, exist_ok=True)
    with ui.serve(uri) as base, tempfile.TemporaryDirectory() as tmp:
        browser, devtools = chromium_devtools(Path(tmp))
        try:
            # wait for the best run's name: the table has loaded its rows
            shots = [str(args.out / "mlflow_runs_table.png"),
                     mlflow_ui.runs_url(exp_id, base), best[0].info.run_name, TABLE_SIZE, "",
                     str(args.out / "mlflow_compare_runs.png"),
                     mlflow_ui.compare_url(exp_id, [r.info.run_id for r in best], base),
                     "throughput_qps", COMPARE_SIZE, DIFF_ONLY]
            return subprocess.call([node, "--experimental-websocket",
                                    str(HERE / "cdp_screenshot.mjs"), devtools, base,
                                    *shots])
        finally:
            browser.terminate()
            browser.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
