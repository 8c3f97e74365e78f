"""Datasets: the two task shapes and the loaders that produce them."""

from xmr.datasets.tasks import QACDataset, QACSplit, SkipReport, XMRDataset, XMRSplit

__all__ = ["QACDataset", "QACSplit", "SkipReport", "XMRDataset", "XMRSplit"]
