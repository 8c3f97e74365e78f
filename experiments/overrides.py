"""Check command-line overrides against the real conf/ before Hydra runs, so a misspelt key
fails with the valid keys of that node (and the closest match) instead of a bare error.

Group options (``data=aoll``) are left to Hydra, whose message already lists the options.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
GROUPS = ("data", "features", "indexer", "model", "eval", "logger", "paths", "experiment",
          "debug")
PASS_THROUGH_FLAGS = {"-m", "--multirun"}


def _searchpath(argv: list[str]) -> list[str]:
    """``hydra.searchpath=[...]`` (config folders beside conf/, e.g. a model kept outside
    the repository): kept in every composition the checks make."""
    return [a for a in argv if a.lstrip("+~").startswith("hydra.searchpath=")]


def _search_folders(argv: list[str]) -> list[Path]:
    """conf/ and the local folders of ``hydra.searchpath``."""
    folders = [Path(CONF_DIR)]
    for o in OverridesParser.create().parse_overrides(_searchpath(argv)):
        for entry in o.value():
            if str(entry).startswith("file://"):
                folders.append(Path(str(entry)[len("file://"):]))
    return folders


def _first_values(argv: list[str]) -> list[str]:
    """Overrides with each sweep replaced by its first value; hydra.* left out but the
    search path."""
    parsed = OverridesParser.create().parse_overrides([a for a in argv if a])
    out = list(_searchpath(argv))
    for o in parsed:
        key = o.get_key_element()
        if key.lstrip("+~").startswith("hydra"):
            continue
        value = next(iter(o.sweep_string_iterator())) if o.is_sweep_override() else (
            o.get_value_element_as_str())
        out.append(f"{key}={value}")
    return out


def _unknown_swept_options(argv: list[str]) -> list[str]:
    """Swept group selections (``features=word1,al``): composing the first values checks only
    the first option, so the others are looked up here, before Hydra starts the sweep."""
    problems = []
    for o in OverridesParser.create().parse_overrides([a for a in argv if a]):
        group = o.get_key_element().lstrip("+~")
        if group not in GROUPS or not o.is_sweep_override():
            continue
        try:
            values = list(o.sweep_string_iterator())[1:]
        except Exception:  # noqa: BLE001 - glob() and the like: Hydra's business
            continue
        folders = [f / group for f in _search_folders(argv)]
        for value in values:
            if value != "null" and not any((f / f"{value}.yaml").is_file() for f in folders):
                available = sorted({p.stem for f in folders for p in f.glob("*.yaml")})
                problems.append(f"Could not find '{group}/{value}'\n  available options in "
                                f"'{group}': {', '.join(available)}")
    return problems


def _describe(exc: Exception) -> str:
    """Hydra's message and its cause (which says what is wrong with the value)."""
    cause = exc.__cause__
    return f"{exc}\n  {cause}" if cause is not None and str(cause) not in str(exc) else str(exc)


def check_overrides(argv: list[str], config_name: str = "config") -> list[str]:
    """Problems found (empty when the overrides compose)."""
    from experiments.schema import register_configs

    register_configs()  # the schemas the YAML options start from
    overrides = _first_values(argv)
    swept = _unknown_swept_options(argv)
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        try:
            cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
        except Exception as exc:  # noqa: BLE001 - a bad key or value: explained below
            cfg, message = None, _describe(exc)
        if cfg is not None:
            return swept + _range_problems(argv, cfg, config_name)
        selections = _searchpath(argv) + [o for o in overrides if "." not in o.split("=")[0]
                                          and o.split("=")[0].lstrip("+~") in GROUPS]
        try:
            base = compose(config_name, overrides=selections)
        except Exception:  # noqa: BLE001 - a bad group option: Hydra's message lists them
            return [message] + swept
    problems = []
    for o in overrides:
        key = o.split("=")[0]
        if key.startswith(("+", "~", "hydra.")) or key in GROUPS:
            continue
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(base, parent) if parent else base
        if not isinstance(node, DictConfig):
            problems.append(f"'{key}': '{parent}' is not a config node (top-level keys: "
                            f"{', '.join(map(str, base.keys()))})")
            continue
        valid = [str(k) for k in node.keys()]
        if leaf not in valid:
            close = difflib.get_close_matches(leaf, valid, n=1)
            hint = f" — did you mean '{parent + '.' if parent else ''}{close[0]}'?" if close \
                else ""
            where = f"'{parent}'" if parent else "the top level"
            problems.append(f"unknown key '{key}'{hint}\n  valid keys of {where}: "
                            f"{', '.join(valid)}")
    return (problems or [message]) + swept


def _swept_values(argv: list[str], cfg: DictConfig) -> dict[str, list[str]]:
    """key → values of every swept key: the preset's ``hydra.sweeper.params`` and the
    command line's sweeps (which win)."""
    preset = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    items = [f"{k}={v}" for k, v in preset.items()] + [a for a in argv if a]
    out: dict[str, list[str]] = {}
    for o in OverridesParser.create().parse_overrides(items):
        key = o.get_key_element()
        if key.lstrip("+~").startswith("hydra"):
            continue
        try:
            out[key] = (list(o.sweep_string_iterator()) if o.is_sweep_override()
                        else [o.get_value_element_as_str()])
        except Exception:  # noqa: BLE001 - range()/glob() sweeps: the job checks them
            continue
    return out


def _range_problems(argv: list[str], cfg: DictConfig, config_name: str) -> list[str]:
    """Values the library would refuse, for every value of every swept key (each checked
    with the other keys at their first value), named with the grid point."""
    from experiments.spec import config_problems, sweep_points

    swept = _swept_values(argv, cfg)
    problems: list[str] = []
    for point in sweep_points(swept) if swept else [{}]:
        overrides = _searchpath(argv) + [f"{k}={v}" for k, v in point.items()]
        try:
            point_cfg = compose(config_name, overrides=overrides)
        except Exception as exc:  # noqa: BLE001 - a bad swept value: say which
            problems.append(f"{' '.join(overrides)}: {_describe(exc)}")
            continue
        for problem in config_problems(point_cfg):
            if problem not in problems:
                problems.append(problem)
    return problems


def check_overrides_or_exit(argv: list[str] | None = None, *,
                            groups: tuple[str, ...] | None = None) -> None:
    """Exit with status 2 and every problem of the overrides. ``groups``: report only the
    problems of these config groups (and overrides that do not compose at all), e.g. a
    command that reads only the data (``experiments.prepare``) ignores the model's."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a.startswith("-") and a not in PASS_THROUGH_FLAGS for a in argv):
        return  # --cfg, --info, -cn ...: Hydra's own business
    try:
        problems = check_overrides([a for a in argv if a not in PASS_THROUGH_FLAGS])
    except Exception:  # noqa: BLE001 - the checker must never block a run Hydra accepts
        return
    if groups is not None:
        other = tuple(f"{g}:" for g in (*GROUPS, "task", "seed", "tune") if g not in groups)
        problems = [p for p in problems if not p.startswith(other)]
    if problems:
        print("Error in the overrides:\n" + "\n".join(problems), file=sys.stderr)
        sys.exit(2)


def composed_or_none(argv: list[str], config_name: str = "config") -> DictConfig | None:
    """The config of the first grid point of ``argv`` (None when it does not compose: the
    override check has said why)."""
    from experiments.schema import register_configs

    argv = [a for a in argv if a not in PASS_THROUGH_FLAGS]
    if any(a.startswith("-") for a in argv):
        return None
    register_configs()
    try:
        with initialize_config_dir(CONF_DIR, version_base="1.3"):
            return compose(config_name, overrides=_first_values(argv))
    except Exception:  # noqa: BLE001 - reported by check_overrides
        return None
