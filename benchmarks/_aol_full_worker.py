"""One Table 2 row on a prepared AOL log, stage by stage (time and peak memory of each), in
its own process: ``benchmarks.aol_full`` starts one per row and reads the JSON it prints last.

    python -m benchmarks._aol_full_worker --row 9 --data-dir DIR [--user-fraction F]
        [--cache-dir DIR]

The row is the harness's own: its config composed from ``conf/`` (``experiment=qac_table2
qac=row<R> data=aol``), the dataset read from the preparation cache ``experiments.prepare``
filled, the runner trained as a sweep trains it (not through the training cache: this
measures the training), then every test request answered in one batch (MRR@10) and timed one
request at a time on one thread (the harness's latency protocol).
"""

from __future__ import annotations

import argparse
import json
import sys


def overrides(row: str, data: list[str], seed: int) -> list[str]:
    """The command-line overrides that make Table 2 row ``row`` on the AOL log ``data``
    (:func:`data_overrides`; ``experiments.prepare`` is given the same)."""
    return ["experiment=qac_table2", f"qac=row{row}", *data, f"seed={seed}", "logger=none"]


def data_overrides(data_dir: str, user_fraction: float, cache_dir: str | None) -> list[str]:
    """The AOL log in ``data_dir`` (``cache_dir``: the preparation cache, None: the
    harness's)."""
    return ["task=qac", "data=aol", f"paths.data_dir={data_dir}",
            f"data.options.user_fraction={user_fraction}",
            *([f"paths.cache_dir={cache_dir}"] if cache_dir else [])]


STAGE_KEY = "stage_done"  # a line of the worker's output: one finished stage


def print_stage(row: dict) -> None:
    """One finished stage as a line of its own, at once: a step stopped by its time-out
    still reports the stages it finished (``benchmarks.aol_full.row_step`` reads them)."""
    print(json.dumps({STAGE_KEY: row}), flush=True)


def run_row(row: str, data: list[str], seed: int) -> dict:
    from hydra import compose, initialize_config_dir

    from experiments.job import load_data
    from experiments.overrides import CONF_DIR
    from experiments.results import latency_sample_size, time_requests
    from experiments.schema import register_configs
    from experiments.spec import resolve
    from experiments.stages import StageRecorder, stage
    from xmr.qac.metrics import mrr_at_k

    register_configs()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=overrides(row, data, seed))
    spec = resolve(cfg)
    with StageRecorder(on_row=print_stage) as rec:
        with stage("load prepared data"):
            ds, card, _, hit = load_data(spec.data)
        if not hit:
            raise RuntimeError("the AOL log was not prepared (no cache hit): run "
                               "`python -m experiments.prepare` with the same data overrides")
        run = spec.runner()
        with stage("fit (all of it)"):
            run.fit(ds)  # marks its own stages: training matrix, featurise, ..., train
        test = ds.splits["test"]
        with stage("suggest every test request (batch)"):
            suggester = run.suggester(spec.inference, ds.labels)
            suggestions = suggester.suggest_batch(test.prev_queries, test.prefixes)
        mrr = mrr_at_k(suggestions, test.next_queries, k=10)  # BLEU: minutes at full size
        requests = list(zip(test.prev_queries, test.prefixes, strict=True))
        with stage("latency (one request at a time, one thread)"):
            latency = time_requests(lambda q: suggester.suggest(q[0], q[1]), requests,
                                    n_timed=latency_sample_size(spec.eval, len(requests)),
                                    n_warmup=int(spec.eval.latency_warmup))
    latency.pop("per_query_ms", None)
    return {"row": row, "n_labels": len(ds.labels), "n_test_requests": test.n,
            "n_train_pairs": ds.splits["train"].n, "mrr_at_10": float(mrr),
            "train_time_s": run.fit_time_s, "model_bytes": run.size().get("model_bytes"),
            "latency": {k: float(v) for k, v in latency.items()},
            "stages": rec.rows, "peak_is_cumulative": rec.peak_is_cumulative}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks._aol_full_worker")
    p.add_argument("--row", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--user-fraction", type=float, default=1.0)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = run_row(args.row, data_overrides(args.data_dir, args.user_fraction, args.cache_dir),
                  args.seed)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
