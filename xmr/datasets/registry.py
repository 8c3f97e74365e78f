"""Every dataset by name: its loader, its config dataclass and its task shape.

Imported lazily so one loader's dependencies never burden the others.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetSpec:
    module: str
    loader: str  # function (data_dir, config) -> XMRDataset | QACDataset
    config: str  # its config dataclass
    task: str  # "xmr" or "qac"
    generator: str | None = None  # generated data: the function that draws it (nothing is
    # read from the data folder; MLflow shows it with its seed as the run's data source)

    def load_module(self):
        return importlib.import_module(self.module)

    def config_class(self):
        return getattr(self.load_module(), self.config)

    def load(self, data_dir: str | Path, config):
        return getattr(self.load_module(), self.loader)(data_dir, config)


DATASETS: dict[str, DatasetSpec] = {
    "synthetic_products": DatasetSpec("xmr.datasets.synthetic_products",
                                      "load_synthetic_products", "SyntheticProductsConfig",
                                      "xmr", "xmr.datasets.synthetic.make_product_search"),
    "homedepot": DatasetSpec("xmr.datasets.homedepot", "load_homedepot", "HomeDepotConfig",
                             "xmr"),
    "esci": DatasetSpec("xmr.datasets.esci", "load_esci", "ESCIConfig", "xmr"),
    "xmc": DatasetSpec("xmr.datasets.xmc", "load_xmc", "XMCConfig", "xmr"),
    "text2text": DatasetSpec("xmr.datasets.text2text", "load_text2text", "Text2TextConfig",
                             "xmr"),
    "aol": DatasetSpec("xmr.datasets.aol", "load_aol", "AOLConfig", "qac"),
    "synthetic_qac": DatasetSpec("xmr.datasets.synthetic_qac_loader", "load_synthetic_qac",
                                 "SyntheticQACConfig", "qac",
                                 "xmr.datasets.synthetic_qac.make_qac_sessions"),
}


def get_dataset(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset loader {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name]
