"""Load (or compile) every numba kernel once, so timings measure work, not the JIT."""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp


@functools.cache
def warmup() -> None:
    """Runs featurizer, indexer, solver, beam search and metrics on a tiny problem (about a
    second from numba's on-disk cache; once per process)."""
    import xmr
    from xmr.features import TextFeaturizer

    texts = [f"word{i % 7} thing{i % 5} item{i}" for i in range(60)]
    feat = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=(3, 3)).fit(texts)
    X = feat.transform(texts)
    labels = np.arange(60) % 12
    Y = sp.csr_matrix((np.ones(60, np.float32), (np.arange(60), labels)), shape=(60, 12))
    for sampling in ("tfn", "man"):
        model = xmr.XRLinear(max_leaf_size=2, nr_splits=2, negative_sampling=sampling,
                             n_jobs=1).fit(X, Y)
    scores = model.predict(X, beam_size=2, topk=3)
    model.predict_one(*feat.transform_one(texts[0]), beam_size=2, topk=3)
    xmr.ranking_metrics(Y, scores)
