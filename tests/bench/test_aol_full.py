"""benchmarks.aol_full's machinery on a tiny synthetic log (no wall-clock assertion): every step
and stage is recorded with a time and a peak, a failing or overlong step is recorded as such,
--resume keeps finished steps, the report renders it; experiments.stages on its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks import _aol_full_worker, aol_full
from benchmarks.report import load_result, render
from xmr.datasets.aol import GENERATOR_VERSION, synthetic_log_complete

FIT_STAGES = ["training matrix", "featurise", "label embedding", "index", "train"]


_STAGES_SCRIPT = """
import json
import numpy as np
from experiments.stages import StageRecorder, stage, _status_kib
before = _status_kib("VmRSS") / 1024
with StageRecorder() as rec:
    with stage("outer"):
        with stage("inner"):
            block = np.ones(20_000_000, dtype=np.uint8)  # ~19 MiB touched
            del block
with stage("no recorder"):  # a no-op without one
    pass
print(json.dumps({"before": before, "rows": rec.rows}))
"""


def test_stages_record_time_and_peak_and_nest():
    # a fresh process: in a long-lived one the allocator may serve the block from pages it
    # already holds, and the resident set would not grow
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, "-c", _STAGES_SCRIPT], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    inner, outer = out["rows"]
    assert (inner["stage"], inner["depth"], outer["stage"], outer["depth"]) == (
        "inner", 1, "outer", 0)
    assert inner["peak_rss_mib"] >= out["before"] + 15  # the block is in the stage's peak
    assert outer["peak_rss_mib"] >= inner["peak_rss_mib"]  # the outer peak covers the inner
    assert outer["seconds"] >= inner["seconds"] >= 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("aol_full")
    out = tmp / "aol_full.json"
    result = aol_full.main(["--log-dir", str(tmp / "log"), "--scale", "0.0003", "--files", "2",
                            "--cache-dir", str(tmp / "cache"), "--out", str(out)])
    return tmp, out, result


@pytest.mark.slow
def test_a_tiny_full_log_run_records_every_step_and_stage(tiny_run):
    tmp, out, result = tiny_run
    assert json.loads(out.read_text()) == result
    steps = {s["step"]: s for s in result["steps"]}
    assert list(steps) == ["generate", "prepare", "row 9", "row 7"]
    assert all(s["outcome"] == "ok" for s in steps.values())
    assert all(s["peak_rss_mib"] > 0 for s in steps.values())  # each step in its own process
    prep = steps["prepare"]["dataset"]
    assert prep["rows_read"] == result["settings"]["rows"] and prep["labels"] > 100
    for row in ("9", "7"):
        s = steps[f"row {row}"]
        names = [st["stage"] for st in s["stages"]]
        assert set(FIT_STAGES) <= set(names)
        assert names.index("index") < names.index("train")
        assert all(st["seconds"] >= 0 and st["peak_rss_mib"] > 0 for st in s["stages"])
        # the step's peak is at least every stage's (the stages reset the kernel's mark)
        assert s["peak_rss_mib"] >= max(st["peak_rss_mib"] for st in s["stages"])
        assert s["n_labels"] == prep["labels"] and 0 < s["mrr_at_10"] <= 1
        lat = s["latency"]
        assert 0 < lat["latency_p50_ms"] <= lat["latency_p99_ms"]
        assert s["under_paper_latency"] == (lat["latency_p99_ms"] < aol_full.PAPER_LATENCY_MS)
    assert result["runs"][0]["command"].startswith("python -m benchmarks.aol_full")
    assert result["runs"][0]["finished_utc"] >= result["runs"][0]["started_utc"]
    for s in steps.values():  # each step says when, at which commit, under which load
        m = s["measured"]
        assert m["finished_utc"] >= m["started_utc"] and len(m["load_average_end"]) == 3
        assert m["commit"] == result["runs"][0]["commit"]
    assert any((tmp / "cache").rglob("dataset_card.json"))  # the cache asked for


@pytest.mark.slow
def test_resume_keeps_finished_steps_and_the_report_renders(tiny_run, tmp_path):
    tmp, out, result = tiny_run
    again = aol_full.main(["--log-dir", str(tmp / "log"), "--scale", "0.0003", "--files", "2",
                           "--cache-dir", str(tmp / "cache"), "--out", str(out), "--resume"])
    assert again["steps"] == result["steps"] and len(again["runs"]) == 2
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.json").write_text(out.read_text())
    block = render("aol_full", "docs/r.json", root=tmp_path)
    assert "| row 9 | train |" in block and "| 7 |" in block
    assert "row(s) 9, 7 (target ≤ 16 GiB: met)" in block
    assert load_result("aol_full", tmp_path / "docs" / "r.json")["steps"]


def test_a_failing_or_overlong_step_is_recorded_not_raised():
    crash = aol_full.run_measured([sys.executable, "-c", "import sys; print('x'); "
                                   "sys.exit('boom')"], timeout_s=60)
    assert crash["returncode"] == 1 and crash["stderr_tail"] == ["boom"]
    assert aol_full._outcome(crash, 60) == "failed (exit status 1)"
    slow = aol_full.run_measured([sys.executable, "-c", "import time; time.sleep(30)"],
                                 timeout_s=0.5)
    assert slow["timed_out"] and aol_full._outcome(slow, 0.5).startswith("stopped after")
    assert aol_full._outcome({"timed_out": False, "returncode": -9}, 1).startswith("killed")


def test_a_partial_run_does_not_claim_the_memory_target():
    result = {"settings": {"rows": 10, "users": 2, "files": 1, "scale": 1e-6,
                           "user_fraction": 1.0, "qac_rows": ["9", "7"]},
              "steps": [{"step": "generate", "outcome": "ok", "seconds": 1.0,
                         "peak_rss_mib": None},
                        {"step": "prepare", "outcome": "killed (signal 9)", "seconds": 5.0,
                         "peak_rss_mib": 100.0}]}
    table = aol_full.markdown_table(result)
    assert "not decided: not every step finished" in table
    assert "| prepare | whole step (killed (signal 9)) | 5.0 | 0.10 |" in table


@pytest.mark.slow
def test_a_resumed_run_may_change_rows_and_time_out_and_a_stopped_run_leaves_its_record(
        tiny_run, tmp_path, monkeypatch):
    tmp, out, result = tiny_run
    copy = tmp_path / "aol_full.json"
    copy.write_text(out.read_text())
    n_runs = len(json.loads(out.read_text())["runs"])
    base = ["--log-dir", str(tmp / "log"), "--scale", "0.0003", "--files", "2",
            "--cache-dir", str(tmp / "cache"), "--out", str(copy), "--resume"]

    def stopped(*args):
        raise KeyboardInterrupt  # a session's end in the middle of row 8

    monkeypatch.setattr(aol_full, "row_step", stopped)
    with pytest.raises(KeyboardInterrupt):
        aol_full.main([*base, "--rows", "8", "--timeout", "99"])
    saved = json.loads(copy.read_text())
    assert saved["steps"] == result["steps"]  # other rows and time-out: the steps are kept
    assert saved["settings"]["qac_rows"] == ["9", "7", "8"]
    assert len(saved["runs"]) == n_runs + 1 and "finished_utc" not in saved["runs"][-1]
    assert "did not finish" in render("aol_full", "aol_full.json", root=tmp_path)
    assert "not decided: not every step finished" in aol_full.markdown_table(saved)


def test_a_stopped_row_keeps_the_stages_it_finished(monkeypatch):
    stage = {"stage": "featurise", "seconds": 2.0, "peak_rss_mib": 10.0, "rss_after_mib": 9.0,
             "depth": 1}
    lines = [json.dumps({_aol_full_worker.STAGE_KEY: stage})] * 2
    monkeypatch.setattr(aol_full, "run_measured", lambda cmd, **kw: {
        "returncode": -9, "timed_out": True, "seconds": 5.0, "peak_rss_mib": 20.0,
        "stdout": "\n".join(["progress text", *lines]) + "\n", "stderr_tail": []})
    step = aol_full.row_step("9", Path("log"), 1.0, None, timeout_s=5)
    assert step["outcome"].startswith("stopped after") and step["stages"] == [stage, stage]
    assert "latency" not in step


def test_a_stopped_row_reports_its_stages_peak_and_skips_a_cut_line(monkeypatch):
    # the stages reset the kernel's high-water mark: wait4's 20 MiB understates the 300 MiB
    # a finished stage reached; the kill cut the last line mid-object
    stage = {"stage": "index", "seconds": 2.0, "peak_rss_mib": 300.0, "rss_after_mib": 9.0,
             "depth": 1}
    monkeypatch.setattr(aol_full, "run_measured", lambda cmd, **kw: {
        "returncode": -9, "timed_out": False, "seconds": 5.0, "peak_rss_mib": 20.0,
        "stdout": json.dumps({_aol_full_worker.STAGE_KEY: stage}) + '\n{"stage_do',
        "stderr_tail": []})
    step = aol_full.row_step("9", Path("log"), 1.0, None, timeout_s=5)
    assert step["outcome"].startswith("killed") and step["stages"] == [stage]
    assert step["peak_rss_mib"] == 300.0


@pytest.mark.slow
def test_resume_refuses_other_settings_and_keeps_what_out_holds(tiny_run, tmp_path, capsys):
    tmp, out, _ = tiny_run
    copy = tmp_path / "aol_full.json"
    copy.write_text(out.read_text())
    before = copy.read_text()
    with pytest.raises(SystemExit) as exc:
        aol_full.main(["--log-dir", str(tmp / "log"), "--scale", "0.0004", "--files", "2",
                       "--cache-dir", str(tmp / "cache"), "--out", str(copy), "--resume"])
    assert exc.value.code == 2 and copy.read_text() == before
    err = capsys.readouterr().err
    assert "other settings" in err and "scale=0.0003 (now 0.0004)" in err


def test_generate_writes_the_version_asked_for(tmp_path):
    step = aol_full.generate(tmp_path, 3000, 30, 2, 1, timeout_s=120)
    assert step["outcome"] == "ok"
    assert synthetic_log_complete(tmp_path, 3000, 30, 2, seed=0, generator=1)
    assert not synthetic_log_complete(tmp_path, 3000, 30, 2, seed=0)
    again = aol_full.generate(tmp_path, 3000, 30, 2, 1, timeout_s=120)
    assert again["outcome"] == "ok (files kept from an earlier run)"


@pytest.mark.slow
def test_resume_refuses_a_log_of_another_generator_version(tiny_run, tmp_path, capsys):
    tmp, out, _ = tiny_run
    old = json.loads(out.read_text())
    assert old["settings"]["generator"] == GENERATOR_VERSION
    del old["settings"]["generator"]  # as the JSONs measured on generator-1 logs are
    copy = tmp_path / "aol_full.json"
    copy.write_text(json.dumps(old))
    with pytest.raises(SystemExit) as exc:
        aol_full.main(["--log-dir", str(tmp / "log"), "--scale", "0.0003", "--files", "2",
                       "--cache-dir", str(tmp / "cache"), "--out", str(copy), "--resume"])
    assert exc.value.code == 2
    assert f"generator=None (now {GENERATOR_VERSION})" in capsys.readouterr().err
    assert "synthetic generator 1." in aol_full.markdown_table(old)


@pytest.mark.slow
def test_a_resume_on_another_machine_says_so(tiny_run, tmp_path, monkeypatch):
    tmp, out, _ = tiny_run
    copy = tmp_path / "aol_full.json"
    copy.write_text(out.read_text())
    first = json.loads(out.read_text())["machine"]
    monkeypatch.setattr(aol_full, "machine_info", lambda peer: {**first, "cpu_count": 64})
    again = aol_full.main(["--log-dir", str(tmp / "log"), "--scale", "0.0003", "--files", "2",
                           "--cache-dir", str(tmp / "cache"), "--out", str(copy), "--resume"])
    assert again["machine"] == first and again["runs"][-1]["machine"]["cpu_count"] == 64
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.json").write_text(copy.read_text())
    assert "on another machine: 64 CPUs" in render("aol_full", "docs/r.json", root=tmp_path)


def test_the_exit_status_says_whether_every_step_finished():
    ok = {"steps": [{"step": "prepare", "outcome": "ok (cache hit: only loaded)"},
                    {"step": "row 9", "outcome": "ok"}]}
    assert aol_full.all_ok(ok)
    ok["steps"].append({"step": "row 7", "outcome": "stopped after the 5 s time-out"})
    assert not aol_full.all_ok(ok)
