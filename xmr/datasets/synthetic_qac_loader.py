"""The synthetic session-log generator (:mod:`xmr.datasets.synthetic_qac`) as a loader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xmr.datasets.tasks import QACDataset


@dataclass
class SyntheticQACConfig:
    size: str | None = "demo"  # a preset of synthetic_qac.SIZES; None = the values below
    n_users: int = 1000  # users (only when size is None)
    sessions_per_user: int = 20  # sessions per user (only when size is None)
    n_topics: int = 50  # topical interests
    zipf_exponent: float = 1.1  # query popularity skew
    reformulation_prob: float = 0.5  # chance the next query reformulates the previous one
    seed: int = 0  # the whole generator is seeded


def load_synthetic_qac(data_dir: str | Path | None = None,
                       config: SyntheticQACConfig = SyntheticQACConfig()) -> QACDataset:
    """Generates the sessions (``data_dir`` is ignored: nothing is read)."""
    from xmr.datasets.synthetic_qac import SIZES, make_qac_preset, make_qac_sessions

    if config.size is not None:
        if config.size not in SIZES:
            raise ValueError(f"size must be one of {sorted(SIZES)} or None, got {config.size!r}")
        return make_qac_preset(config.size, seed=config.seed)
    return make_qac_sessions(n_users=config.n_users, sessions_per_user=config.sessions_per_user,
                             n_topics=config.n_topics, zipf_exponent=config.zipf_exponent,
                             reformulation_prob=config.reformulation_prob, seed=config.seed)
