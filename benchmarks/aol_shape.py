"""Is the synthetic AOL log shaped like the real one where the QAC models are sensitive?

    python -m benchmarks.aol_shape --data-dir ../shared/data --out docs/bench/aol_shape.json

The full-AOL benchmark (:mod:`benchmarks.aol_full`) runs on a synthetic log written by
:func:`xmr.datasets.aol.write_synthetic_aol_log`; only the 1,000-user subset of the real log is
at hand. This puts them side by side: the real subset (``aol/aol_top1000users.tsv.gz`` under
``--data-dir``; left out, with the reason, when absent) and, per generator version, a synthetic
log of the subset's rows and users (and of ``--scales`` times them), each read by the harness's
own loader (:func:`xmr.datasets.aol.load_aol`). Per log, over its training pairs' next queries
(the labels):

- ``labels_per_pair``: distinct labels per training pair;
- ``top_label_share``: the most frequent label's share of the pairs;
- ``largest_family_labels`` / ``largest_family_share``: the most labels sharing their first
  16 characters (the trie of Table 2 rows 9 and 10 collapses everything below depth 16 into
  one leaf cluster, so such a family is one parent of the label level) and their share of
  the labels;
- ``trie_leaf_pairs_per_pair``: Σ over those families of labels × training pairs of the
  family, per training pair: the binary problems × rows the trie's label level solves (each
  label of a family is trained on the family's rows), the quantity its training time follows;
- ``largest_first_word_share``: the most labels sharing their first word.

One process, sequential; the synthetic logs are written to a temporary folder and removed.
The JSON holds every log's statistics and the run record (command, commit, UTC times, load);
``python -m benchmarks.report aol_shape JSON`` renders it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.common import finish_run, fmt_number, machine_info, start_run
from xmr.datasets._io import DataNotFoundError
from xmr.datasets.aol import (
    GENERATOR_VERSION,
    GENERATOR_VERSIONS,
    load_aol,
    write_synthetic_aol_file,
)

TRIE_DEPTH = 16  # Table 2 rows 9 and 10: trie depth 16
SUBSET_ROWS, SUBSET_USERS = 407_929, 1_000  # the real subset's data rows and users
STATS = ("pairs", "labels", "labels_per_pair", "top_label_share", "largest_family_labels",
         "largest_family_share", "trie_leaf_pairs_per_pair", "largest_first_word_share")


def shape_stats(next_queries: list[str], depth: int = TRIE_DEPTH) -> dict:
    """The statistics above for one split's next queries (one entry per pair)."""
    if not next_queries:
        raise ValueError("no pairs: nothing to describe")
    pairs = Counter(next_queries)
    n_pairs, labels = len(next_queries), list(pairs)
    family_labels, family_pairs = Counter(), Counter()
    for label, n in pairs.items():
        family_labels[label[:depth]] += 1
        family_pairs[label[:depth]] += n
    family, family_size = family_labels.most_common(1)[0]
    first_word = Counter(label.split(" ", 1)[0] for label in labels)
    top_label, top_n = pairs.most_common(1)[0]
    leaf_pairs = sum(family_labels[f] * family_pairs[f] for f in family_labels)
    return {"pairs": n_pairs, "labels": len(labels),
            "labels_per_pair": len(labels) / n_pairs,
            "top_label": top_label, "top_label_share": top_n / n_pairs,
            "largest_family": family, "largest_family_labels": family_size,
            "largest_family_share": family_size / len(labels),
            "trie_leaf_pairs_per_pair": leaf_pairs / n_pairs,
            "largest_first_word_share": first_word.most_common(1)[0][1] / len(labels)}


def describe(folder: Path) -> dict:
    ds = load_aol(folder)
    return shape_stats(list(ds.splits["train"].next_queries)) | {
        "rows": ds.info["rows_read"], "users": ds.info["users"]}


def synthetic(rows: int, users: int, generator: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="aol_shape_") as tmp:
        write_synthetic_aol_file(Path(tmp) / "user-ct-test-collection-01.txt.gz", rows, users,
                                 seed=0, generator=generator)
        return describe(Path(tmp))


def markdown_table(result: dict) -> str:
    logs = result["logs"]
    head = "| | " + " | ".join(log["name"] for log in logs) + " |"
    lines = [head, "|---|" + "---:|" * len(logs)]
    for key in ("rows", "users", *STATS):
        cells = (fmt_number(log.get(key), small_decimals=4) for log in logs)
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines.append("| largest family | " + " | ".join(
        f"`{log['largest_family']}`" if "largest_family" in log else "–" for log in logs)
        + " |")
    for note in result.get("notes", []):
        lines.append(f"\n{note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.aol_shape",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"),
                   help="the folder holding aol/aol_top1000users.tsv.gz")
    p.add_argument("--scales", type=int, nargs="+", default=[1, 10],
                   help="synthetic logs of this many times the subset's rows and users")
    p.add_argument("--generators", type=int, nargs="+", default=[1, GENERATOR_VERSION],
                   help="generator versions (xmr.datasets.aol.GENERATOR_VERSION is the current)")
    p.add_argument("--out", type=Path, default=Path("bench-results/aol_shape.json"))
    args = p.parse_args(argv)
    if any(s < 1 for s in args.scales):
        p.error(f"--scales must be >= 1, got {args.scales}")
    if not set(args.generators) <= set(GENERATOR_VERSIONS):
        p.error(f"--generators must be among {list(GENERATOR_VERSIONS)}, "
                f"got {args.generators}")
    result = {"benchmark": "aol_shape", "settings": {
        "scales": args.scales, "generators": args.generators, "trie_depth": TRIE_DEPTH,
        "subset_rows": SUBSET_ROWS, "subset_users": SUBSET_USERS},
        "machine": machine_info(None), "logs": [], "notes": [],
        "runs": [start_run("benchmarks.aol_shape", argv)]}
    try:
        result["logs"].append({"name": "real subset"} | describe(args.data_dir))
    except DataNotFoundError as exc:
        result["notes"].append(f"real subset left out: {str(exc).splitlines()[0]}")
    for scale in args.scales:
        for g in args.generators:
            name = f"generator {g}" + (f" ×{scale}" if scale > 1 else "")
            print(f"{name} ...", flush=True)
            result["logs"].append({"name": name, "generator": g, "scale": scale}
                                  | synthetic(SUBSET_ROWS * scale, SUBSET_USERS * scale, g))
    finish_run(result["runs"][-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown_table(result))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
