"""The results docs' generated blocks (`benchmarks.report`): the committed pages match the
committed JSONs, a stale block is found and rewritten, old JSONs render, and the run
records the benchmarks write now (`benchmarks.common.start_run`) reach the page."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from benchmarks import common, report, scale

ROOT = Path(__file__).resolve().parents[2]
BIBTEX = "docs/bench/vs_pecos_bibtex.json"


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """docs/results and docs/bench of the checkout, in a folder of their own."""
    for sub in ("docs/results", "docs/bench"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    return tmp_path


def test_the_committed_docs_match_the_committed_jsons(capsys):
    assert report.update_docs(ROOT, check=True) == []
    assert report.main(["--check"]) == 0
    pages = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / report.DOCS).glob("*.md")}
    # the tables that were pasted by hand are generated now: every committed JSON of a kind
    # the report renders is rendered on some page
    commands = [m.group("command") for text in pages.values()
                for m in report.BLOCK.finditer(text)]
    rendered = {Path(c.split()[4]).name for c in commands}
    kinds = tuple(report.KINDS)
    committed = {p.name for p in (ROOT / "docs" / "bench").glob("*.json")
                 if p.name.startswith(kinds)}
    assert committed and committed <= rendered, committed - rendered
    assert pages["scale.md"].count(report.BEGIN) >= 3
    assert pages["benchmarks.md"].count(report.BEGIN) >= 4  # vs_pecos ×3, ovr_vs_lml bibtex


def test_a_stale_block_is_named_by_check_and_rewritten(repo_copy, capsys):
    path = repo_copy / BIBTEX
    result = json.loads(path.read_text())
    result["xmr"]["train_s"] = 12.345
    path.write_text(json.dumps(result))
    page = repo_copy / "docs/results/benchmarks.md"
    before = page.read_text()

    assert report.main(["--check", "--root", str(repo_copy)]) == 1
    out = capsys.readouterr().out
    assert f"docs/results/benchmarks.md: python -m benchmarks.report vs_pecos {BIBTEX}" in out
    assert "synthetic" not in out and "scale.md" not in out  # only the stale one is named
    assert page.read_text() == before  # --check writes nothing

    assert report.main(["--root", str(repo_copy)]) == 0
    after = page.read_text()
    assert f"| train_s | 12.35 | {common.fmt_number(result['pecos']['train_s'])} |" in after
    assert report.main(["--check", "--root", str(repo_copy)]) == 0
    # the prose around the blocks is untouched
    assert after.split(report.BEGIN)[0] == before.split(report.BEGIN)[0]


def test_a_hand_edited_block_is_stale(repo_copy):
    page = repo_copy / "docs/results/scale.md"
    text = page.read_text()
    page.write_text(text.replace("| train_s | 1.59 |", "| train_s | 1.50 |", 1))
    stale = report.update_docs(repo_copy, check=True)
    assert stale == ["docs/results/scale.md: python -m benchmarks.report scale "
                     "docs/bench/scale.json"]


def test_an_old_json_without_run_records_renders_not_recorded(tmp_path):
    result = json.loads((ROOT / BIBTEX).read_text())
    del result["runs"]  # as written before the records existed
    (tmp_path / "bibtex_old.json").write_text(json.dumps(result))
    text = report.render("vs_pecos", "bibtex_old.json", root=tmp_path)
    assert "command, commit and date: not recorded" in text
    assert "load average (1 min) during the run: not recorded" in text
    assert "peer libpecos 1.2.8" in text
    assert "### bibtex: xmr vs PECOS" in text
    # an older scale JSON kept its load averages in the settings: they are read from there
    old = {"settings": {"sides": [], "load_average_start": [3.0, 2.0, 1.0],
                        "load_average_end": [5.0, 2.0, 1.0]},
           "sizes": [], "summary": {"slopes": {}}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    text = report.render("scale", "old.json", root=tmp_path)
    assert "during the run: 3.00–5.00" in text and "machine: not recorded" in text


def test_a_run_record_has_when_what_and_load():
    run = common.start_run("benchmarks.scale", ["--sizes", "20000", "--out", "a b.json"])
    assert run["command"] == "python -m benchmarks.scale --sizes 20000 --out 'a b.json'"
    assert run["commit"] is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", run["commit"])
    assert run["started_utc"].endswith("+00:00") and len(run["load_average_start"]) == 3
    common.finish_run(run)
    assert run["finished_utc"] >= run["started_utc"] and len(run["load_average_end"]) == 3
    assert common.recorded_runs({"runs": [run]}) == [run]
    assert common.recorded_runs({"settings": {}}) == []


def test_outside_git_the_commit_is_none(tmp_path):
    assert common.git_commit(tmp_path) is None


def test_a_benchmarks_own_output_does_not_mark_the_commit_dirty(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    for name in ("code.py", "out.json"):
        (tmp_path / name).write_text("1\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    (tmp_path / "out.json").write_text("2\n")  # the run's record, written first
    assert common.git_commit(tmp_path).endswith("-dirty")
    assert not common.git_commit(tmp_path, ignore=(tmp_path / "out.json",)).endswith("-dirty")
    (tmp_path / "code.py").write_text("2\n")  # the code itself changed: dirty
    assert common.git_commit(tmp_path, ignore=(tmp_path / "out.json",)).endswith("-dirty")


def test_a_new_scale_json_records_each_invocation_and_renders_them(tmp_path, monkeypatch):
    def fake_side(folder, timeout_s=None, model=None):
        return {"train_s": 2.0, "peak_mem_mib": 100.0, "throughput_qps": 50.0,
                "precision_at_1": 0.5, "recall_at_10": 0.4}

    monkeypatch.setattr(scale, "RUNNERS", {side: fake_side for side in scale.SIDES})
    monkeypatch.setattr(scale, "prepare", lambda n, n_test, seed, folder: {
        "n_train": 2 * n, "n_features": 10, "x_trn_nnz": 20})
    out = tmp_path / "scale.json"
    common_args = ["--sizes", "100", "--n-test", "10", "--cache-dir", str(tmp_path / "cache"),
                   "--out", str(out)]
    scale.main([*common_args, "--sides", "xmr"])
    result = scale.main([*common_args, "--sides", "xmr", "pecos", "--resume"])
    runs = result["runs"]
    assert len(runs) == 2 and "--resume" in runs[1]["command"]
    assert all("finished_utc" in r and "load_average_end" in r for r in runs)
    assert "load_average_start" not in result["settings"]  # one place: the run records
    assert json.loads(out.read_text())["runs"] == runs

    text = report.render("scale", "scale.json", root=tmp_path)
    assert "- run 1: `python -m benchmarks.scale --sizes 100" in text
    assert "- run 2: " in text and "not recorded" not in text
    assert str(tmp_path) not in text  # the machine's folders are cut (the docs test refuses them)
    assert ".../" + tmp_path.name + "/scale.json" in text


def test_sizes_select_rows_and_keep_the_runs_load(tmp_path):
    text = report.render("scale", "docs/bench/scale_2026-11-29.json", root=ROOT,
                         sizes=[1_000_000])
    assert "#### 1,000,000 labels" in text and "#### 20,000 labels" not in text
    assert "during the run: 3.45–8.02" in text  # the whole run's, not only the 1M sides'
    with pytest.raises(ValueError, match=r"--sizes \[5\] not in the JSON"):
        report.render("scale", "docs/bench/scale.json", root=ROOT, sizes=[5])
    with pytest.raises(ValueError, match="scale results only"):
        report.render("vs_pecos", BIBTEX, root=ROOT, sizes=[5])


def test_bad_blocks_and_jsons_are_refused(repo_copy):
    with pytest.raises(ValueError, match="not a benchmarks.scale result"):
        report.render("scale", BIBTEX, root=ROOT)
    with pytest.raises(ValueError, match="kind must be one of"):
        report.load_result("nope", ROOT / BIBTEX)
    with pytest.raises(FileNotFoundError, match="no_such.json"):
        report.render("scale", "docs/bench/no_such.json", root=ROOT)
    page = repo_copy / "docs/results/benchmarks.md"
    text = page.read_text()
    page.write_text(text + f"\n{report.BEGIN}python -m benchmarks.report figure x -->\n"
                    f"{report.END}\n")
    with pytest.raises(ValueError, match="must be 'python -m benchmarks.report KIND JSON"):
        report.update_docs(repo_copy, check=True)
    page.write_text(text + f"\n{report.BEGIN}python -m benchmarks.scale -->\n")
    starts = text.count(report.BEGIN) + 1  # the page's blocks and the unclosed one
    with pytest.raises(ValueError, match=f"{starts} block starts"):
        report.update_docs(repo_copy, check=True)


def test_the_figure_command_writes_a_png(tmp_path):
    out = tmp_path / "fig" / "scale.png"
    assert report.main(["figure", "docs/bench/scale_b2.json", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        report.main(["figure", "docs/bench/scale.json"])  # no --out
    with pytest.raises(SystemExit):
        report.main(["vs_pecos"])  # no JSON
