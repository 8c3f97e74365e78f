"""The documentation stays true to the tree: in README.md and every docs/**/*.md, each relative
link (and its #anchor) resolves, each ``make <target>`` named in code is a Makefile target, each
``python -m <module>`` named in code is importable (found, not run), and no page names a path
of the machine it was written on."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
MAKE = re.compile(r"(?<![\w.-])make\s+((?:-{1,2}[\w=-]+\s+)*)([A-Za-z][\w.-]*)")
PYTHON_M = re.compile(r"(?<![\w-])python3?\s+-m\s+([A-Za-z_][\w.]*)")
TARGET = re.compile(r"^([A-Za-z0-9][\w.-]*)\s*:(?!=)", re.MULTILINE)
# paths of the machine the docs were written on: never valid on a reader's
LOCAL_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home)/|sqlite:////")


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def fenced_split(text: str) -> tuple[list[str], list[str]]:
    """(lines outside fenced code blocks, lines inside them)."""
    outside, inside, fenced = [], [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        else:
            (inside if fenced else outside).append(line)
    return outside, inside


def split_code(text: str) -> tuple[list[str], list[str]]:
    """(prose lines with inline code removed, code: fenced lines and inline code spans)."""
    outside, code = fenced_split(text)
    for line in outside:
        code.extend(m.group(2) for m in INLINE_CODE.finditer(line))
    return [INLINE_CODE.sub("", line) for line in outside], code


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: link texts kept, punctuation dropped, spaces → '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a Markdown text (a repeated heading gets -1, -2, …)."""
    seen: dict[str, int] = {}
    out = set()
    for line in fenced_split(text)[0]:  # inline code stays in a heading's anchor
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def make_targets(makefile: Path) -> set[str]:
    return {t for t in TARGET.findall(makefile.read_text(encoding="utf-8"))
            if not t.startswith(".")}


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that is missing or not a package
        return False


def check(path: Path, text: str, *, targets: set[str], root: Path = ROOT,
          local_paths: bool = True) -> list[str]:
    """Every problem of one Markdown page, as ``'<page>: <what>'`` lines (none: it is fine).
    ``local_paths``: also refuse paths of the local machine."""
    name = path.relative_to(root) if path.is_relative_to(root) else path
    prose, code = split_code(text)
    problems = []
    for line in prose:
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            if not file_part:  # an anchor of this page
                if anchor not in anchors(text):
                    problems.append(f"{name}: link {target!r}: no heading #{anchor} here")
                continue
            dest = (path.parent / file_part).resolve()
            if not dest.exists():
                problems.append(f"{name}: link {target!r}: {file_part} does not exist")
            elif anchor and dest.suffix == ".md" and \
                    anchor not in anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{name}: link {target!r}: no heading #{anchor} in "
                                f"{dest.name}")
    for snippet in code:
        for _, target in MAKE.findall(snippet):
            if target not in targets:
                problems.append(f"{name}: `make {target}` is not a Makefile target")
        for module in PYTHON_M.findall(snippet):
            if not module_exists(module):
                problems.append(f"{name}: `python -m {module}`: no such module")
    for i, line in enumerate(text.splitlines(), 1):
        if local_paths and LOCAL_PATH.search(line):
            problems.append(f"{name}:{i}: names a path of the local machine: {line.strip()}")
    return problems


@pytest.fixture(scope="module", autouse=True)
def _importable_project():
    """``python -m experiments.run`` is run from the project root: find its packages there."""
    added = str(ROOT) not in sys.path
    if added:
        sys.path.insert(0, str(ROOT))
    yield
    if added:
        sys.path.remove(str(ROOT))


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_and_commands_exist(path: Path):
    # generated files too (a bundle's claims.md): none may name a path of the machine
    problems = check(path, path.read_text(encoding="utf-8"),
                     targets=make_targets(ROOT / "Makefile"))
    assert not problems, "\n".join(problems)


def test_readme_is_short_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    first_make = MAKE.search(text)
    assert first_make is not None and first_make.group(2) == "demo"
    assert "make test" in text[:text.index("make demo") + 400]


def test_every_guide_and_results_page_is_linked_from_the_readme():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = [*(ROOT / "docs" / "guide").glob("*.md"), *(ROOT / "docs" / "results").glob("*.md")]
    assert pages
    missing = [str(p.relative_to(ROOT)) for p in pages
               if f"]({p.relative_to(ROOT).as_posix()}" not in text]
    assert not missing, f"README.md links none of {missing}"


# ------------------------------------------------------------------- the checker itself
GOOD = """# Title

## Running: a sweep (fast)

### What `predict_one` costs

See [the section](#running-a-sweep-fast), [code](#what-predict_one-costs),
[the other page](other.md#its-heading) and [a site](https://example.org).

```bash
make demo && make test PYTEST_ARGS=-x
python -m json.tool data.json
```
"""
BAD = """# Title

[gone](missing.md), [no such heading](other.md#nowhere), [here](#not-a-heading)
`make nonsense`, `python -m no_such_module_xyz.sub`

```
sqlite:////work/main/logs/mlflow.db
```
"""


def test_checker_accepts_a_good_page_and_names_every_fault_of_a_bad_one(tmp_path):
    (tmp_path / "other.md").write_text("# Its heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    assert check(page, GOOD, targets={"demo", "test"}, root=tmp_path) == []
    problems = check(page, BAD, targets={"demo", "test"}, root=tmp_path)
    assert len(problems) == 6, problems
    for fault in ("missing.md does not exist", "no heading #nowhere in other.md",
                  "no heading #not-a-heading here", "`make nonsense`",
                  "`python -m no_such_module_xyz.sub`", "path of the local machine"):
        assert any(fault in p for p in problems), (fault, problems)


def test_links_inside_code_are_not_links_and_prose_make_is_not_a_command(tmp_path):
    text = "Make sure to read it.\n\n```\n[x](nowhere.md)\n```\n`[y](gone.md)`\n"
    assert check(tmp_path / "p.md", text, targets=set(), root=tmp_path) == []


def test_slug_and_targets():
    assert slug("Beyond one machine: SLURM, an MLflow server") == \
        "beyond-one-machine-slurm-an-mlflow-server"
    assert slug("Adding a model: `conf/model/<name>.yaml`") == "adding-a-model-confmodelnameyaml"
    assert {"demo", "test", "bench-scale"} <= make_targets(ROOT / "Makefile")
    assert "VENV" not in make_targets(ROOT / "Makefile")
