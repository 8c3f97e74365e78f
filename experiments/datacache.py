"""Load a dataset through its loader once, cache it keyed by the data config, and describe it
in a dataset card (``dataset_card.json``)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import time
from pathlib import Path

from xmr.datasets._io import recording_inputs
from xmr.datasets.registry import get_dataset
from xmr.datasets.tasks import QACDataset, XMRDataset

log = logging.getLogger(__name__)
CACHE_FORMAT = 3  # bump when the pickled dataset classes change (3: QAC user/session ids)


def config_hash(obj) -> str:
    """Stable short hash of a JSON-able object (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def dataset_card(ds, data_cfg: dict, task: str) -> dict:
    """What is common to every dataset (name, config, rows skipped and why), the task's own
    section (:attr:`experiments.tasks.Task.card`: sizes per split, labels, label-frequency
    quantiles, share of test positives unseen in training, ...) and the total row count."""
    from experiments.tasks import get_task

    card = {"name": ds.name, "data_config": data_cfg, "skipped": ds.skipped.as_dict(),
            "task": task, **get_task(task).card(ds)}
    card["rows_total"] = int(sum(split["rows"] for split in card["splits"].values()))
    card["info"] = ds.info
    return card


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_fingerprint(files: list[Path], data_dir: str | Path) -> list[dict]:
    """Each input file: path (relative to the data folder when inside it), size, mtime and
    content hash; what :func:`stale_inputs` compares a cached dataset against."""
    root = Path(data_dir).resolve()
    out = []
    for f in sorted(Path(p).resolve() for p in files):
        st = f.stat()
        rel = str(f.relative_to(root)) if f.is_relative_to(root) else str(f)
        out.append({"path": rel, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                    "sha256": _sha256(f)})
    return out


def stale_inputs(recorded: list[dict], data_dir: str | Path) -> list[str]:
    """The recorded input files that are gone or whose content changed. Size and mtime
    equal: unchanged (no read); otherwise the content hash decides, so a copy of the same
    files (new mtime) still hits."""
    changed = []
    for entry in recorded:
        f = Path(data_dir) / entry["path"]
        if not f.is_file():
            changed.append(f"{entry['path']} (missing)")
            continue
        st = f.stat()
        if st.st_size == entry["size"] and st.st_mtime_ns == entry["mtime_ns"]:
            continue
        if st.st_size != entry["size"] or _sha256(f) != entry["sha256"]:
            changed.append(f"{entry['path']} (changed)")
    return changed


def _atomic_write(path: Path, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it into place: a
    parallel job never reads half a file, and a failure (a full disk) leaves no temporary
    file behind."""
    tmp = path.with_suffix(f"{path.suffix}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def prepare_dataset(name: str, loader: str, options, options_dict: dict, data_dir: str,
                    cache_dir: str, *, use_cache: bool = True
                    ) -> tuple[XMRDataset | QACDataset, dict, Path, bool]:
    """Returns (dataset, card, cache folder, cache_hit). The cache key is the data config
    (loader name + options) — not the data folder, so a moved copy of the same files hits;
    a cached dataset whose input files changed since (content, or gone) is prepared again."""
    spec = get_dataset(loader)
    key = config_hash({"loader": loader, "options": options_dict, "format": CACHE_FORMAT})
    folder = Path(cache_dir) / "datasets" / f"{name}-{key}"
    data_file, card_file = folder / "dataset.pkl", folder / "dataset_card.json"
    if use_cache and data_file.is_file() and card_file.is_file():
        card = json.loads(card_file.read_text())
        changed = stale_inputs(card.get("input_files", []), data_dir)
        if not changed:
            t0 = time.perf_counter()
            with open(data_file, "rb") as fh:
                ds = pickle.load(fh)
            log.info("dataset %s: cache hit (%s, %.1f s)", name, folder,
                     time.perf_counter() - t0)
            return ds, card, folder, True
        log.warning("dataset %s: input files changed since it was cached (%s): preparing "
                    "it again", name, ", ".join(changed))
    t0 = time.perf_counter()
    with recording_inputs() as files:
        ds = spec.load(data_dir, options)
    load_s = time.perf_counter() - t0
    card = dataset_card(ds, {"name": name, "loader": loader, "options": options_dict},
                        spec.task)
    card["load_time_s"] = load_s
    card["cache_key"] = key
    card["input_files"] = input_fingerprint(files, data_dir)
    # what trained models are keyed by: the config and the content of the input files
    card["data_key"] = key if not files else config_hash(
        {"cache_key": key, "inputs": [(f["path"], f["sha256"]) for f in card["input_files"]]})
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(data_file, lambda fh: pickle.dump(ds, fh, protocol=pickle.HIGHEST_PROTOCOL))
    _atomic_write(card_file, lambda fh: fh.write(
        json.dumps(card, indent=2, default=str).encode()))
    log.info("dataset %s: loaded in %.1f s, cached in %s", name, load_s, folder)
    return ds, card, folder, False


def card_summary(card: dict) -> str:
    """The few lines a person checks first."""
    features = f", {card['n_features']:,} features" if card.get("n_features") else ""
    lines = [f"dataset {card['name']} ({card['task']}): {card['n_labels']:,} labels{features}"]
    for name, split in card["splits"].items():
        extra = ""
        if "share_positives_unseen_in_train" in split:
            extra = f", {split['share_positives_unseen_in_train']:.1%} positives unseen in train"
        lines.append(f"  {name:6s} {split['rows']:>10,} rows{extra}")
    lines.append(f"  total  {card['rows_total']:>10,} rows")
    if "unique_next_queries_all_splits" in card:
        lines.append(f"  {card['unique_next_queries_all_splits']:,} unique next queries over all "
                     f"splits ({card['n_labels']:,} in train = the label space)")
    skipped = card["skipped"]
    if skipped["total"]:
        reasons = ", ".join(f"{r}: {n:,}" for r, n in skipped["by_reason"].items())
        lines.append(f"  skipped {skipped['total']:,} rows ({reasons})")
    else:
        lines.append("  skipped 0 rows")
    return "\n".join(lines)
