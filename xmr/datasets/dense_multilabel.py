"""Seeded dense multi-label data: a few hundred features, ~20 labels per row, ~1k labels.

The shape of the classic small multi-label benchmarks (Delicious: 500 features, 983 labels,
19 labels per row, 12,920 training rows), where every row reaches most nodes of the upper
tree levels — the opposite of product search's sparse rows with ~3 labels.

Generative story: ``n_topics`` latent topics, each with a Dirichlet distribution over the
features and one over the labels. A row mixes 1-4 topics (Dirichlet weights); its features are
``n_active`` draws from the mixed feature distribution, valued ``1 + ln(count)`` and
l2-normalised; its labels are ``Poisson(labels_per_row)`` (at least 1) distinct draws from the
mixed label distribution times a Zipfian label popularity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from xmr._validation import check_float, check_int


@dataclass
class DenseMultilabelData:
    X_train: sp.csr_matrix  # (n_train, n_features) float32, l2-normalised rows
    Y_train: sp.csr_matrix  # (n_train, n_labels) float32 0/1, every row >= 1 label
    X_test: sp.csr_matrix
    Y_test: sp.csr_matrix
    params: dict


def _draw(rng, n_rows, topic_feat, topic_lab, popularity, n_active, labels_per_row):
    n_topics, n_features = topic_feat.shape
    n_labels = topic_lab.shape[1]
    k = rng.integers(1, 5, size=n_rows)
    x_rows, x_cols, x_vals, y_rows, y_cols = [], [], [], [], []
    for i in range(n_rows):
        topics = rng.choice(n_topics, size=k[i], replace=False)
        mix = rng.dirichlet(np.ones(k[i]))
        pf = mix @ topic_feat[topics]
        counts = rng.multinomial(n_active, pf / pf.sum())
        f = np.flatnonzero(counts)
        v = 1.0 + np.log(counts[f])
        x_rows.append(np.full(f.size, i))
        x_cols.append(f)
        x_vals.append(v / np.linalg.norm(v))
        pl = (mix @ topic_lab[topics]) * popularity
        m = int(np.clip(rng.poisson(labels_per_row), 1, n_labels))
        # distinct weighted draws without replacement (Gumbel top-m)
        keys = np.log(pl + 1e-300) + rng.gumbel(size=n_labels)
        lab = np.argpartition(-keys, m - 1)[:m]
        y_rows.append(np.full(m, i))
        y_cols.append(lab)
    X = sp.csr_matrix((np.concatenate(x_vals).astype(np.float32),
                       (np.concatenate(x_rows), np.concatenate(x_cols))),
                      shape=(n_rows, n_features))
    Y = sp.csr_matrix((np.ones(sum(c.size for c in y_cols), dtype=np.float32),
                       (np.concatenate(y_rows), np.concatenate(y_cols))),
                      shape=(n_rows, n_labels))
    X.sort_indices()
    Y.sort_indices()
    return X, Y


def make_dense_multilabel(*, n_train: int = 12_920, n_test: int = 3_185,
                          n_features: int = 500, n_labels: int = 983,
                          labels_per_row: float = 19.0, n_active: int = 60,
                          n_topics: int = 40, seed: int = 0) -> DenseMultilabelData:
    """Draw the data (defaults: Delicious's sizes).

    Parameters
    ----------
    n_train, n_test : int, >= 1
        Rows of each split.
    n_features : int, >= 2
        Columns of X.
    n_labels : int, >= 2
        Columns of Y.
    labels_per_row : float in [1, n_labels]
        Mean number of labels of a row.
    n_active : int, >= 1
        Feature draws per row (the distinct ones are its non-zeros).
    n_topics : int, >= 4
        Latent topics.
    seed : int, >= 0
        Seed of every draw.
    """
    n_train = check_int("n_train", n_train, minimum=1)
    n_test = check_int("n_test", n_test, minimum=1)
    n_features = check_int("n_features", n_features, minimum=2)
    n_labels = check_int("n_labels", n_labels, minimum=2)
    labels_per_row = check_float("labels_per_row", labels_per_row, minimum=1.0)
    if labels_per_row > n_labels:
        raise ValueError(f"labels_per_row must be <= n_labels={n_labels}, got {labels_per_row}")
    n_active = check_int("n_active", n_active, minimum=1)
    n_topics = check_int("n_topics", n_topics, minimum=4)
    seed = check_int("seed", seed, minimum=0)
    rng_model, rng_train, rng_test = (np.random.default_rng(s)
                                      for s in np.random.SeedSequence(seed).spawn(3))
    topic_feat = rng_model.dirichlet(np.full(n_features, 0.05), size=n_topics)
    topic_lab = rng_model.dirichlet(np.full(n_labels, 0.05), size=n_topics)
    popularity = (1.0 + rng_model.permutation(n_labels)) ** -0.5
    args = (topic_feat, topic_lab, popularity, n_active, labels_per_row)
    X_trn, Y_trn = _draw(rng_train, n_train, *args)
    X_tst, Y_tst = _draw(rng_test, n_test, *args)
    params = dict(n_train=n_train, n_test=n_test, n_features=n_features, n_labels=n_labels,
                  labels_per_row=labels_per_row, n_active=n_active, n_topics=n_topics,
                  seed=seed, mean_labels=float(Y_trn.nnz / n_train),
                  mean_features=float(X_trn.nnz / n_train))
    return DenseMultilabelData(X_trn, Y_trn, X_tst, Y_tst, params)
