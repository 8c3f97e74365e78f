"""benchmarks.qac_latency's machinery on a tiny synthetic log: the staged steps answer what
`QACSuggester.suggest` answers, every stage is timed, the shares add up (no wall-clock
assertion)."""

from __future__ import annotations

import pytest

from benchmarks.qac_latency import STAGES, breakdown, staged_call, timed_requests
from xmr import XRLinear
from xmr.datasets.synthetic_qac import make_qac_preset
from xmr.indexers import TrieIndexer
from xmr.qac import QACSuggester, QACVectorizer


@pytest.fixture(scope="module")
def suggester_and_test():
    ds = make_qac_preset("tiny")
    tr = ds.splits["train"]
    vec = QACVectorizer(prefix_weighting="position").fit(tr.prev_queries, tr.prefixes)
    model = XRLinear(nr_splits=2, max_leaf_size=100, n_jobs=1).fit(
        vec.transform(tr.prev_queries, tr.prefixes), ds.label_matrix("train"),
        tree=TrieIndexer(depth=16).build(labels=ds.labels))
    return QACSuggester(vec, model, ds.labels, topk=1000), ds.splits["test"]


def test_the_staged_steps_answer_as_suggest(suggester_and_test):
    sug, test = suggester_and_test
    one = staged_call(sug)
    reqs = timed_requests(test.prev_queries, test.prefixes, 200)
    assert reqs and all(p.strip() for p, _ in reqs)
    answered = 0
    for prev, prefix in reqs:
        out, ns = one(prev, prefix)
        assert out == sug.suggest(prev, prefix)
        assert len(ns) == len(STAGES) and all(t >= 0 for t in ns)
        answered += bool(out)
    assert answered > 0  # the comparison above is not only of empty lists


def test_breakdown_reports_every_stage(suggester_and_test):
    sug, test = suggester_and_test
    reqs = timed_requests(test.prev_queries, test.prefixes, 150)
    out = breakdown(sug, reqs, n_warmup=10)
    assert out["n_requests"] == len(reqs)
    assert set(out["stages"]) == set(STAGES)
    assert sum(s["share"] for s in out["stages"].values()) == pytest.approx(1.0)
    for part in (*out["stages"].values(), out["staged_total"], out["whole_call"]):
        assert 0 <= part["p50_ms"] <= part["p99_ms"]
    with pytest.raises(ValueError, match="no request"):
        breakdown(sug, [])


def test_timed_requests_drops_empty_previous_queries():
    assert timed_requests(["a", " ", "", "b"], ["x", "y", "z", "w"], None) == [("a", "x"),
                                                                              ("b", "w")]
    assert timed_requests(["a", "b"], ["x", "y"], 1) == [("a", "x")]


def test_the_report_renders_its_json(suggester_and_test, tmp_path):
    import json

    from benchmarks import report
    from benchmarks.common import finish_run, machine_info, start_run

    sug, test = suggester_and_test
    reqs = timed_requests(test.prev_queries, test.prefixes, 60)
    result = {"benchmark": "qac_latency", "machine": machine_info(None),
              "rows": {"9": {"n_labels": len(sug.labels)} | breakdown(sug, reqs, n_warmup=5)},
              "runs": [finish_run(start_run("benchmarks.qac_latency", ["--rows", "9"]))]}
    (tmp_path / "q.json").write_text(json.dumps(result))
    text = report.render("qac_latency", "q.json", root=tmp_path)
    assert "python -m benchmarks.qac_latency --rows 9" in text
    assert text.count("| 9 |") == len(STAGES) + 2  # the stages, their sum, the whole call
    with pytest.raises(ValueError, match="not a benchmarks.qac_latency result"):
        (tmp_path / "other.json").write_text(json.dumps({"sizes": []}))
        report.render("qac_latency", "other.json", root=tmp_path)
