"""`make demo`: synthetic product search end to end with the library alone.

Generates the embedded synthetic data ("demo" size), featurises queries (word 1–3-grams +
char trigrams, TF-IDF), trains XR-Linear, and prints P@1, R@10, training time and the
single-query latency (text → features → beam search, one thread).
"""

from __future__ import annotations

import argparse
import logging
import time

import xmr
from xmr.datasets.synthetic import SIZES, make_product_search_preset
from xmr.features import TextFeaturizer
from xmr.timing import measure_latency


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="demo", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beam-size", type=int, default=10)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("demo")

    t0 = time.perf_counter()
    data = make_product_search_preset(args.size, seed=args.seed)
    log.info("data: %d train / %d test queries, %d products (%.1f s)", len(data.train_texts),
             len(data.test_texts), data.Y_train.shape[1], time.perf_counter() - t0)

    t0 = time.perf_counter()
    featurizer = TextFeaturizer(word_ngram_range=(1, 3), char_ngram_range=(3, 3))
    X = featurizer.fit_transform(data.train_texts)
    X_test = featurizer.transform(data.test_texts)
    log.info("features: %d (word 1-3-grams + char trigrams, TF-IDF) (%.1f s)",
             featurizer.n_features_, time.perf_counter() - t0)

    model = xmr.XRLinear(allow_empty=True, verbose=True).fit(X, data.Y_train)
    log.info("trained XR-Linear: tree levels %s, %d weights (%.1f s)",
             model.tree_.level_sizes, model.model_nnz_, model.fit_time_s_)

    t0 = time.perf_counter()
    scores = model.predict(X_test, beam_size=args.beam_size, topk=100)
    batch_s = time.perf_counter() - t0
    metrics = xmr.ranking_metrics(data.Y_test, scores)

    def one(text: str):
        return model.predict_one(*featurizer.transform_one(text), beam_size=args.beam_size)

    latency = measure_latency(one, data.test_texts)
    latency.pop("per_query_ms")  # one number per metric here
    out = {**metrics, "train_time_s": model.fit_time_s_, **latency,
           "throughput_qps": X_test.shape[0] / batch_s, "model_nnz": model.model_nnz_}
    print()
    print(f"P@1   {metrics['precision_at_1']:.4f}")
    print(f"R@10  {metrics['recall_at_10']:.4f}")
    print(f"R@100 {metrics['recall_at_100']:.4f}")
    print(f"train {model.fit_time_s_:.2f} s")
    print(f"latency (text -> top 10, one thread) p50 {latency['latency_p50_ms']:.3f} ms, "
          f"p99 {latency['latency_p99_ms']:.3f} ms over {latency['n_timed']} queries")
    print(f"batch throughput {out['throughput_qps']:.0f} queries/s")
    return out


if __name__ == "__main__":
    main()
