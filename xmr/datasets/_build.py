"""Building blocks shared by the XMR loaders: seeded query splits, label matrices, and
judgements → :class:`XMRDataset`."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from xmr._validation import check_float, check_seed
from xmr.datasets.tasks import SkipReport, XMRDataset, XMRSplit

logger = logging.getLogger(__name__)

# which products become labels: only those with a positive pair, or every judged product
LABEL_SETS = ("positive", "judged")
NO_POSITIVE = "query with no positive pair (query dropped)"  # a SkipReport reason


def check_split_settings(test_fraction, seed) -> None:
    """Validate the seeded query split's settings (shared by the loaders that split)."""
    check_float("test_fraction", test_fraction, minimum=0.0)
    if test_fraction >= 1.0:
        raise ValueError(f"test_fraction must be < 1, got {test_fraction}")
    check_seed("seed", seed)


def split_queries(queries: Iterable[str], test_fraction: float, seed: int) -> dict[str, str]:
    """Seeded split by query: ``{query: "train" | "test"}``.

    The distinct queries are sorted, permuted with ``np.random.default_rng(seed)`` and the
    first ``round(test_fraction * n)`` go to test, so the result depends only on the set of
    queries, the fraction and the seed (not on the file's row order).
    """
    distinct = sorted(set(queries))
    order = np.random.default_rng(seed).permutation(len(distinct))
    n_test = int(round(test_fraction * len(distinct)))
    test = {distinct[i] for i in order[:n_test]}
    return {q: ("test" if q in test else "train") for q in distinct}


def label_matrix(rows: Sequence[Sequence[int]], n_labels: int) -> sp.csr_matrix:
    """(len(rows), n_labels) float32 0/1 CSR from each row's label column indices
    (duplicates within a row collapse to one 1)."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=nnz)
    Y = sp.csr_matrix((np.ones(nnz, dtype=np.float32), indices, indptr),
                      shape=(len(rows), n_labels))
    Y.sum_duplicates()
    Y.data[:] = 1.0
    return Y


def judgements_to_dataset(
    name: str,
    positives: Mapping[str, Sequence[str]],
    *,
    judged_products: Iterable[str],
    label_set: str,
    split_of: Mapping[str, str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    query_texts: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
    title_as_input: bool = False,
    skipped: SkipReport,
    info: dict,
) -> XMRDataset:
    """Build an :class:`XMRDataset` from each query's positive products.

    Parameters
    ----------
    positives : ``{query key: [product id, ...]}``, only queries with >= 1 positive.
    judged_products : every product id judged in a kept row (the label space when
        ``label_set == "judged"``).
    split_of : ``{query key: "train" | "test"}`` from the data (an official split); when
        None the queries are split by :func:`split_queries` (``test_fraction``, ``seed``).
    query_texts : ``{query key: text}`` when keys are ids; None when keys are the texts.
    titles : ``{product id: title}``; gives ``label_texts`` (and title training rows).

    Rows within a split are in sorted key order; labels are the sorted product ids.
    """
    if split_of is None:
        split_of = split_queries(positives, test_fraction, seed)
    if label_set == "positive":
        label_ids = sorted({p for prods in positives.values() for p in prods})
    else:
        label_ids = sorted(set(judged_products))
    column = {p: j for j, p in enumerate(label_ids)}

    splits, stats = {}, {}
    for split in ("train", "test"):
        keys = sorted(q for q in positives if split_of[q] == split)
        texts = [query_texts[q] if query_texts is not None else q for q in keys]
        rows = [[column[p] for p in positives[q]] for q in keys]
        stats[split] = {"queries": len(keys), "positive_pairs": sum(map(len, rows))}
        if split == "train" and title_as_input:
            missing = 0
            for j, p in enumerate(label_ids):
                title = titles.get(p, "") if titles is not None else ""
                if title.strip():
                    texts.append(title)
                    rows.append([j])
                else:
                    missing += 1
            stats[split]["title_rows"] = len(texts) - len(keys)
            info["title_rows"] = [len(keys), len(texts)]  # train rows [start, end) are titles
            if missing:
                info["labels_without_title_row"] = missing
                logger.warning("%s: %d labels have no title, so no title training row",
                               name, missing)
        splits[split] = XMRSplit(Y=label_matrix(rows, len(label_ids)), texts=texts)

    train_labels = {p for q, prods in positives.items() if split_of[q] == "train" for p in prods}
    test_labels = {p for q, prods in positives.items() if split_of[q] == "test" for p in prods}
    info.update({
        "n_queries": len(positives),
        "n_positive_pairs": sum(map(len, positives.values())),
        "n_labels": len(label_ids),
        "splits": stats,
        "test_labels_unseen_in_train_queries": len(test_labels - train_labels),
        "protocol": ("title→product rows added to train" if title_as_input
                     else "queries only (no title→product rows)"),
    })
    label_texts = [titles.get(p, "") for p in label_ids] if titles is not None else None
    return XMRDataset(name=name, splits=splits, label_ids=label_ids, label_texts=label_texts,
                      skipped=skipped, info=info)


# --------------------------------------------------------------------------------------
# Home Depot
