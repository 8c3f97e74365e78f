"""The package layering the guide promises, read from the source: no import loop among the
project's modules, the library free of Hydra/OmegaConf/MLflow, and no
module outside the registries and the tasks branching on a model's or a task's name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("xmr", "baselines", "experiments", "analysis", "benchmarks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports, at module level or inside a function (a lazy
    import that closes a loop is still a loop of the design)."""
    tree = ast.parse(path.read_text())
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in modules:  # a name imported from a module
                name = name.rpartition(".")[0]
            if name and name != me:
                out.add(name)
    return out


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's members, one list per strongly connected component of size
    > 1 (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_cycle_finder_finds_a_loop():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_loop():
    modules = _modules()
    graph = {m: _imports(p, modules) for m, p in modules.items()}
    # a package's __init__ importing its own modules is not a loop of the design
    for m in graph:
        graph[m] = {d for d in graph[m] if not m.startswith(d + ".")}
    assert find_cycles(graph) == []


def test_the_library_knows_nothing_of_the_harness():
    banned = re.compile(r"^\s*(import|from)\s+(hydra|omegaconf|mlflow|experiments|analysis)\b",
                        re.M)
    offenders = [str(p.relative_to(REPO)) for pkg in ("xmr", "baselines")
                 for p in (REPO / pkg).rglob("*.py") if banned.search(p.read_text())]
    assert offenders == []


# a comparison of a model's or a task's name with a literal: the registries (RUNNERS,
# xmr.INDEXERS, the dataset registry) and the tasks (experiments/tasks.py) answer instead
NAME_DISPATCH = re.compile(
    r"""(\b(model|task|indexer|name)\b[\w.\[\]"']*\s*(==|!=)\s*["'](xmr|qac|mpc|xrlinear|"""
    r"""ovr_linear|dual_encoder|seq2seq|pecos|trie|hkmeans|hybrid|mustlink)["'])""")


def test_no_module_dispatches_on_a_model_or_task_name():
    offenders = []
    for pkg in ("experiments", "baselines", "xmr"):
        for path in (REPO / pkg).rglob("*.py"):
            if path == REPO / "experiments" / "tasks.py":
                continue
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if NAME_DISPATCH.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert offenders == []


def test_the_dispatch_pattern_catches_a_dispatch():
    assert NAME_DISPATCH.search('if cfg.model.name == "mpc":')
    assert NAME_DISPATCH.search("if cfg.task != 'qac':")
    assert not NAME_DISPATCH.search('if cfg.logger.name == "mlflow":')
