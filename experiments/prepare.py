"""`python -m experiments.prepare data=NAME [overrides]`: load, preprocess and cache a dataset
(a second run is a cache hit) and write/print its dataset card. Same conf/ as the runner."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from experiments.overrides import check_overrides_or_exit
from experiments.schema import register_configs

register_configs()
log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from experiments.datacache import card_summary
    from experiments.job import load_data
    from experiments.spec import data_spec

    try:
        _, card, folder, hit = load_data(data_spec(cfg))
    except Exception as exc:  # noqa: BLE001 - a clear line and exit 1, not a traceback
        log.debug("prepare failed", exc_info=True)
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    out = Path(cfg.paths.output_dir) / "dataset_card.json"
    out.write_text(json.dumps(card, indent=2, default=str))
    print(card_summary(card))
    print(f"{'cache hit' if hit else 'prepared and cached'}: {folder}")
    print(f"dataset card: {folder / 'dataset_card.json'} (copy: {out})")
    return card


def cli() -> None:
    check_overrides_or_exit(groups=("data", "paths"))  # the model's settings do not matter here
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    cli()
