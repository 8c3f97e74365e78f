"""experiments.latency: the compared models timed in one process, round-robin over blocks of
requests, >= 3 repeats with the model order rotated; the times written back to each run and
read by the claims table. No wall-clock assertion: a fake clock and recording callables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments import latency


# ------------------------------------------------------------------------ the order
def test_blocks_alternate_and_the_order_rotates_per_repeat():
    order = latency.schedule(3, 120, block=50, repeats=3)
    # per repeat: 3 blocks of requests ([0,50), [50,100), [100,120)), every model each
    assert len(order) == 3 * 3 * 3
    first = order[:9]
    assert [(m, a, b) for _, m, a, b in first] == [
        (0, 0, 50), (1, 0, 50), (2, 0, 50), (0, 50, 100), (1, 50, 100), (2, 50, 100),
        (0, 100, 120), (1, 100, 120), (2, 100, 120)]
    for r in range(3):  # repeat r starts with model r: nobody always first or last
        mine = [m for rep, m, _, _ in order if rep == r]
        assert mine[:3] == [(r + i) % 3 for i in range(3)]
        assert mine[3:6] == mine[:3]  # the same order for every block of the repeat
    # every (repeat, model, request) exactly once
    seen = [(r, m, i) for r, m, a, b in order for i in range(a, b)]
    assert sorted(seen) == [(r, m, i) for r in range(3) for m in range(3) for i in range(120)]


@pytest.mark.parametrize("kwargs, match", [
    ({"repeats": 2}, "repeats must be >= 3, got 2"),
    ({"block": 0}, "block must be >= 1, got 0")])
def test_too_few_repeats_or_an_empty_block_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        latency.schedule(2, 10, **{"block": 5, "repeats": 3, **kwargs})


class Recorder:
    """Single-request callables that log (model, request) in the order they are called,
    and a fake clock that advances by model ``m``'s cost (m + 1 ms) during its calls."""

    def __init__(self, n_models: int):
        self.calls: list[tuple[int, object]] = []
        self.now = 0.0
        self.n_models = n_models

    def model(self, m: int):
        def call(q):
            self.calls.append((m, q))
            self.now += (m + 1) / 1e3
        return call

    def clock(self) -> float:
        return self.now


def test_time_interleaved_runs_the_schedule_with_warm_up_and_fake_clock():
    rec = Recorder(2)
    requests = [[f"a{i}" for i in range(7)], [f"b{i}" for i in range(7)]]
    times = latency.time_interleaved([rec.model(0), rec.model(1)], requests, block=3,
                                     repeats=3, n_warmup=2, clock=rec.clock)
    # warm-up: 2 untimed requests per model, first
    assert rec.calls[:4] == [(0, "a0"), (0, "a1"), (1, "b0"), (1, "b1")]
    timed = rec.calls[4:]
    assert len(timed) == 3 * 2 * 7
    # repeat 0: A block 1, B block 1, A block 2, ...; repeat 1 starts with B
    models = [m for m, _ in timed]
    assert models[:14] == [0] * 3 + [1] * 3 + [0] * 3 + [1] * 3 + [0] + [1]
    assert models[14:20] == [1] * 3 + [0] * 3
    assert models[28:34] == [0] * 3 + [1] * 3
    # each model gets its own form of each request, every request once per repeat
    for m, prefix in ((0, "a"), (1, "b")):
        got = [q for mm, q in timed if mm == m]
        assert sorted(got) == sorted([f"{prefix}{i}" for i in range(7)] * 3)
    # the times land on the right model: model m costs m + 1 ms on the fake clock
    assert times.shape == (3, 2, 7)
    assert np.allclose(times[:, 0], 1.0) and np.allclose(times[:, 1], 2.0)


def test_time_interleaved_refuses_mismatched_requests():
    rec = Recorder(2)
    with pytest.raises(ValueError, match="one length"):
        latency.time_interleaved([rec.model(0), rec.model(1)], [[1, 2], [1]], block=1,
                                 repeats=3)
    with pytest.raises(ValueError, match="non-empty"):
        latency.time_interleaved([rec.model(0)], [[1], [2]], block=1, repeats=3)


def test_summary_and_artifact_table():
    times = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])  # (repeats, n)
    s = latency.summary(times)
    assert s["latency_il_p50_ms"] == pytest.approx(5.0)
    assert s["latency_il_p99_ms"] == pytest.approx(np.percentile(times, 99))
    assert s["latency_il_repeats"] == 3.0
    frame = latency.per_request_frame(times)
    assert list(frame.columns) == ["query_id", "repeat", "latency_ms"]
    assert frame["query_id"].tolist() == [0, 1, 2] * 3
    assert frame["repeat"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert frame["latency_ms"].tolist() == pytest.approx(times.ravel().tolist())


def test_runners_timed_elsewhere_are_recognised():
    from experiments.models import RUNNERS

    assert latency.timed_elsewhere(RUNNERS["xmr"]["pecos"])  # times in its own worker
    for name in ("xrlinear", "ovr_linear", "dual_encoder"):
        assert not latency.timed_elsewhere(RUNNERS["xmr"][name])
    assert not any(latency.timed_elsewhere(cls) for cls in RUNNERS["qac"].values())


def _fake_run(rid: str, card: str, seed: str, **tags):
    from types import SimpleNamespace

    return SimpleNamespace(info=SimpleNamespace(run_id=rid), data=SimpleNamespace(
        params={"dataset_card_hash": card, "seed": seed},
        tags={"data": "d", "mlflow.runName": rid, **tags}))


def test_runs_are_grouped_by_data_and_seed_and_a_timed_group_is_done():
    runs = [_fake_run("a", "c1", "0"), _fake_run("b", "c1", "0"), _fake_run("c", "c1", "1"),
            _fake_run("d", "c2", "0")]
    groups = latency.groups_of(runs)
    assert sorted(sorted(m.run_id for m in g.members) for g in groups) == [
        ["a", "b"], ["c"], ["d"]]
    g = next(g for g in groups if len(g.members) == 2)
    assert not g.done()
    for m in g.members:
        m.tags[latency.GROUP_TAG] = g.id
    assert g.done()
    g.members[1].skip = "timed elsewhere"  # another set of runs: another group id
    assert not g.done()


# ------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def timed_qac(tmp_path_factory):
    """experiment=smoke_qac (5 configurations x 2 seeds), then the interleaved timing."""
    from conftest import _run_app, _tmp_paths  # noqa: PLC0415

    root = tmp_path_factory.mktemp("latency_qac")
    proc = _run_app("experiments.run", "-m", "experiment=smoke_qac", *_tmp_paths(root),
                    cwd=root, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    uri = f"sqlite:///{root / 'logs' / 'mlflow.db'}"
    timed = _run_app("experiments.latency", "--experiment", "smoke_qac", "--tracking-uri",
                     uri, "--settle", "0", cwd=root, timeout=300)
    assert timed.returncode == 0, timed.stdout[-3000:] + timed.stderr[-3000:]
    return root, uri, timed


def _runs(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("smoke_qac")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    return client, [r for r in runs if r.data.tags.get("role") != "sweep"]


@pytest.mark.slow
def test_every_run_gets_its_interleaved_times(timed_qac, tmp_path):
    _, uri, proc = timed_qac
    client, runs = _runs(uri)
    assert len(runs) == 10
    assert proc.stdout.count("5 runs timed interleaved, 3 repeats") == 2  # one per seed
    groups = {}
    for run in runs:
        m, tags = run.data.metrics, run.data.tags
        assert m["latency_il_repeats"] == 3.0
        assert 0 < m["latency_il_p50_ms"] <= m["latency_il_p99_ms"]
        assert m["latency_il_cpu_count"] >= 1 and m["latency_il_load_avg"] >= 0
        # the job's own metrics are kept under their names
        assert "latency_p50_ms" in m and "latency_load_avg" in m
        groups.setdefault(run.data.params["seed"], set()).add(tags[latency.GROUP_TAG])
        path = client.download_artifacts(run.info.run_id, latency.ARTIFACT,
                                         str(tmp_path / run.info.run_id))
        frame = pd.read_parquet(path)
        assert list(frame.columns) == ["query_id", "repeat", "latency_ms"]
        n = frame["query_id"].nunique()
        assert len(frame) == 3 * n and set(frame["repeat"]) == {0, 1, 2}
        assert (frame["latency_ms"] > 0).all()
        assert np.percentile(frame["latency_ms"], 50) == pytest.approx(
            m["latency_il_p50_ms"], rel=1e-4)
        # the test requests of per_query.parquet (same ids: paired with the job's results)
        pq = pd.read_parquet(client.download_artifacts(run.info.run_id, "per_query.parquet",
                                                       str(tmp_path / run.info.run_id)))
        assert set(frame["query_id"]) <= set(pq["query_id"])
    # one group per seed (the runs a claim compares), every model of it (MPC retrained)
    assert len(groups) == 2 and all(len(g) == 1 for g in groups.values())
    assert groups["0"] != groups["1"]


@pytest.mark.slow
def test_a_rerun_times_only_what_is_missing(timed_qac):
    from conftest import _run_app  # noqa: PLC0415

    root, uri, _ = timed_qac
    before = {r.info.run_id: r.data.metrics["latency_il_p50_ms"] for r in _runs(uri)[1]}
    again = _run_app("experiments.latency", "--experiment", "smoke_qac", "--tracking-uri",
                     uri, "--settle", "0", cwd=root, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("already timed together") == 2
    assert {r.info.run_id: r.data.metrics["latency_il_p50_ms"]
            for r in _runs(uri)[1]} == before


@pytest.mark.slow
def test_the_claims_table_reads_the_interleaved_times(timed_qac, tmp_path):
    """C9a/C9b (trie vs hybrid): the per-request times of the interleaved timing, its load
    for the busy rule — from the store and from a results bundle alike."""
    from analysis import bundle, claims, load

    _, uri, _ = timed_qac
    runs = load.load_runs(uri)
    assert runs["latency_il_group"].notna().all()
    table = claims.evaluate(runs).set_index("claim")
    for cid in ("C9a", "C9b"):
        row = table.loc[cid]
        assert "interleaved in one process, 3 repeats" in row["detail"], row["detail"]
        assert "load not recorded" not in row["detail"]
        assert row["verdict"] != "not run"
    bundle.export(tmp_path / "bundle", tracking_uri=uri)
    assert len(list((tmp_path / "bundle" / load.BUNDLE_INTERLEAVED).glob("*.parquet"))) == 10
    again = claims.evaluate(bundle.load_runs(tmp_path / "bundle")).set_index("claim")
    assert again.loc["C9a", "detail"] == table.loc["C9a", "detail"]
    assert again.loc["C9a", "estimate"] == pytest.approx(table.loc["C9a", "estimate"])


@pytest.mark.slow
def test_product_search_runs_are_rebuilt_from_the_cache_and_re_pruned(tmp_path):
    """experiment=smoke at two thresholds (one training at train_threshold, re-pruned per
    run): both runs are timed together, text in, from the cached model."""
    from conftest import _run_app, _tmp_paths  # noqa: PLC0415

    proc = _run_app("experiments.run", "-m", "experiment=smoke", "features=all",
                    "eval.beam_size=10", "seed=0", *_tmp_paths(tmp_path), cwd=tmp_path,
                    timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    uri = f"sqlite:///{tmp_path / 'logs' / 'mlflow.db'}"
    timed = _run_app("experiments.latency", "--experiment", "smoke", "--tracking-uri", uri,
                     "--max-requests", "40", "--block", "7", "--settle", "0", cwd=tmp_path,
                     timeout=300)
    assert timed.returncode == 0, timed.stdout[-3000:] + timed.stderr[-3000:]
    assert "2 runs timed interleaved, 3 repeats" in timed.stdout
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = [r for r in client.search_runs([client.get_experiment_by_name("smoke")
                                           .experiment_id])
            if r.data.tags.get("role") != "sweep"]
    assert sorted(r.data.params["model.threshold"] for r in runs) == ["0.05", "0.2"]
    assert len({r.data.tags[latency.GROUP_TAG] for r in runs}) == 1
    for run in runs:
        frame = pd.read_parquet(client.download_artifacts(
            run.info.run_id, latency.ARTIFACT, str(tmp_path / run.info.run_id)))
        assert len(frame) == 3 * 40  # --max-requests: the first 40 test requests
        assert run.data.metrics["latency_il_repeats"] == 3.0


class _NoArtifacts:
    """An MLflow client whose artifact store lost every file: the job's folder answers."""

    def download_artifacts(self, run_id, name, dst):
        raise OSError("artifact store unreachable")


def test_a_tuned_run_is_rebuilt_at_its_chosen_configuration(tmp_path, compose_cfg):
    """A tuned run's config.yaml holds the search, its tuning.json the choice: the timing
    rebuilds the model the run evaluated (its feature set, threshold and beam), not the
    preset's starting point, from the job's folder when the artifact store lacks the files."""
    import json

    from omegaconf import OmegaConf

    from experiments.spec import resolve

    cfg = compose_cfg(["experiment=smoke", "features=all", "model.threshold=0.05",
                       "eval.beam_size=10",
                       "+tune.models.xrlinear.space.features=[all,word1]",
                       "+tune.models.xrlinear.space.threshold=[0.05,0.2]",
                       "+tune.models.xrlinear.space.beam_size=[2,10]"])
    cfg.paths.output_dir = str(tmp_path)  # resolved as a job writes its config.yaml
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    chosen = {"features": "word1", "threshold": 0.2, "beam_size": 2}
    (tmp_path / "tuning.json").write_text(json.dumps(
        {"chosen": chosen, "chosen_trial": 0, "trials": [{"convergence": {}}]}))
    tags = {"output_dir": str(tmp_path), "tuned": "true"}
    base = resolve(latency.run_config(_NoArtifacts(), "r", tags))
    final = latency.final_spec(_NoArtifacts(), "r", tags, base)
    assert (base.threshold, base.inference.beam_size) == (0.05, 10)
    assert (final.threshold, final.inference.beam_size) == (0.2, 2)
    assert final.training_key("d")["features"] != base.training_key("d")["features"]
    # an untuned run is timed as configured
    assert latency.final_spec(_NoArtifacts(), "r", {"tuned": "false"}, base) is base
