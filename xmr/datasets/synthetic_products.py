"""The synthetic product-search generator (:mod:`xmr.datasets.synthetic`) as a
dataset loader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import scipy.sparse as sp

from xmr.datasets.synthetic import SIZES, make_product_search, make_product_search_preset
from xmr.datasets.tasks import XMRDataset, XMRSplit


@dataclass
class SyntheticProductsConfig:
    size: str | None = "demo"  # a preset of xmr.datasets.synthetic.SIZES (tiny/demo/bench/xl);
    # None = use the explicit sizes below
    n_products: int = 20000  # labels (only when size is None)
    n_train: int = 50000  # training queries (only when size is None)
    n_test: int = 5000  # test queries (only when size is None)
    positives_per_query: float = 3.0  # mean relevant products per query
    typo_rate: float = 0.05  # chance per query word of a typo
    zipf_exponent: float = 1.1  # product popularity skew
    seed: int = 0  # the whole generator is seeded
    title_as_input: bool = False  # add each product's title as a training row → that
    # product (as homedepot/esci): the linear models read the titles the dual encoder's
    # label tower reads


def load_synthetic_products(data_dir: str | Path | None = None,
                            config: SyntheticProductsConfig = SyntheticProductsConfig()
                            ) -> XMRDataset:
    """Generates the data (``data_dir`` is ignored: nothing is read). With
    ``title_as_input`` the titles follow the training queries as rows ``[n_train, n_train +
    n_products)`` of the train split (``info["title_rows"]``, as the real datasets')."""
    if not isinstance(config.title_as_input, bool):
        raise TypeError(f"title_as_input must be a bool, got {config.title_as_input!r}")
    if config.size is not None:
        if config.size not in SIZES:
            raise ValueError(f"size must be one of {sorted(SIZES)} or None, got {config.size!r}")
        data = make_product_search_preset(config.size, seed=config.seed)
    else:
        data = make_product_search(
            n_products=config.n_products, n_train=config.n_train, n_test=config.n_test,
            positives_per_query=config.positives_per_query, typo_rate=config.typo_rate,
            zipf_exponent=config.zipf_exponent, seed=config.seed)
    texts, Y = list(data.train_texts), data.Y_train
    info = {"generator": "xmr.datasets.synthetic.make_product_search", "params": data.params}
    if config.title_as_input:
        n_labels = Y.shape[1]
        titles = sp.identity(n_labels, dtype=Y.dtype, format="csr")
        info["title_rows"] = [len(texts), len(texts) + n_labels]  # [start, end) of train
        texts += list(data.label_texts)
        Y = sp.vstack([Y, titles], format="csr")
        info["protocol"] = "title→product rows added to train"
    return XMRDataset(
        name="synthetic_products",
        splits={"train": XMRSplit(Y=Y, texts=texts),
                "test": XMRSplit(Y=data.Y_test, texts=data.test_texts)},
        label_ids=[str(i) for i in range(data.Y_train.shape[1])],
        label_texts=data.label_texts, info=info)
