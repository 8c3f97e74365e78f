"""One look for every figure: paper sizes, fonts, colours per threshold and feature set, log
axes where values span orders of magnitude, the data footnote, PNG + PDF output."""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; the notebook shows the PNGs

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import matplotlib.transforms as mtransforms  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.load import describe  # noqa: E402

SINGLE_COLUMN_IN = 3.5  # width of a single-column figure (inches)
DOUBLE_COLUMN_IN = 7.0  # width of a double-column figure (inches)
PNG_DPI = 200
LOG_SPAN = 5.0  # a log axis when max / min of positive values reaches this

RC = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 6.5,
    "legend.title_fontsize": 6.5, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "lines.linewidth": 1.2, "lines.markersize": 4, "axes.grid": True, "grid.alpha": 0.3,
    "grid.linewidth": 0.5, "axes.spines.top": False, "axes.spines.right": False,
    "legend.frameon": False, "figure.dpi": 100, "savefig.dpi": PNG_DPI,
    "pdf.fonttype": 42, "ps.fonttype": 42,  # embedded TrueType: editable text in the PDF
    "figure.constrained_layout.use": True,
}

# the paper's feature sets, in the order they are discussed (conf/features/)
FEATURE_ORDER = ("word1", "word123", "char3", "all")
FEATURE_LABELS = {"word1": "word1 (word unigrams)", "word123": "word123 (word 1–3-grams)",
                  "char3": "char3 (char trigrams)", "all": "all (word 1–3 + char 3-grams)"}
FEATURE_COLORS = {"word1": "#4C72B0", "word123": "#55A868", "char3": "#C44E52",
                  "all": "#8172B2"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
PARETO_COLOR = "black"


@contextmanager
def context():
    """``with style.context(): ...`` around building a figure."""
    with plt.rc_context(RC):
        yield


def feature_order(names) -> list[str]:
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda n: (FEATURE_ORDER.index(n) if n in FEATURE_ORDER
                                        else len(FEATURE_ORDER), str(n)))


def feature_label(name: str) -> str:
    return FEATURE_LABELS.get(name, str(name))


def feature_color(name: str, i: int = 0) -> str:
    return FEATURE_COLORS.get(name, plt.rcParams["axes.prop_cycle"].by_key()["color"][i % 10])


def threshold_colors(thresholds) -> dict[float, tuple]:
    """Sequential colours: light = little pruning, dark = heavy pruning."""
    values = sorted(set(thresholds))
    cmap = plt.get_cmap("viridis")
    if len(values) == 1:
        return {values[0]: cmap(0.35)}
    return {t: cmap(0.8 - 0.78 * i / (len(values) - 1)) for i, t in enumerate(values)}


def fmt_threshold(t: float) -> str:
    return f"{t:g}"


def wants_log(values) -> bool:
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(), dtype=float)
    v = v[v > 0]
    return len(v) > 1 and v.max() / v.min() >= LOG_SPAN


def set_scale(ax, axis: str, values) -> None:
    """``axis`` ('x' or 'y'): log scale with 1-2-5 ticks when the values span an order of
    magnitude, else linear with at most 5 ticks; plain numbers (no offsets, no 10^k)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    if wants_log(values):
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(), dtype=float)
        decades = np.log10(v[v > 0].max() / v[v > 0].min())
        subs = (1.0, 2.0, 5.0) if decades > 1.5 else (1.0, 2.0, 3.0, 5.0)  # >= 3 labels
        target.set_major_locator(mticker.LogLocator(base=10, subs=subs))
        target.set_minor_locator(mticker.LogLocator(base=10, subs=np.arange(1, 10)))
        target.set_minor_formatter(mticker.NullFormatter())
    else:
        target.set_major_locator(mticker.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10],
                                                    min_n_ticks=3))
    target.set_major_formatter(mticker.FuncFormatter(_plain))


def value_ticks(ax, axis: str, values, *, max_n: int = 8) -> None:
    """Ticks exactly at the grid values that were run (a swept parameter), when few."""
    v = sorted(set(pd.to_numeric(pd.Series(values), errors="coerce").dropna()))
    if not 1 < len(v) <= max_n:
        return
    target = ax.xaxis if axis == "x" else ax.yaxis
    log = (ax.get_xscale() if axis == "x" else ax.get_yscale()) == "log"
    pos = np.log10(v) if log and min(v) > 0 else np.asarray(v, dtype=float)
    gap = 0.2 if log else 0.08 * (pos[-1] - pos[0])  # closer than this: tick, no label
    labelled, last = [], -np.inf
    for value, p in zip(v, pos):
        if p - last >= gap or value == v[-1] and p - last >= gap / 2:
            labelled.append(value)
            last = p
    target.set_major_locator(mticker.FixedLocator(v))
    target.set_minor_locator(mticker.NullLocator())
    target.set_major_formatter(mticker.FuncFormatter(
        lambda x, _pos=None: _plain(x) if np.isclose(x, labelled).any() else ""))


def _plain(value: float, _pos=None) -> str:
    """Tick label: 0.03, 2, 1.5k, 2M (short, no scientific notation)."""
    if value == 0:
        return "0"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:.3g}{suffix}"
    return f"{value:.3g}"


def figure(n_panels: int = 1, *, width: float | None = None, panel_height: float = 2.2,
           max_cols: int = 3, sharex: bool = False, sharey: bool = False):
    """(fig, flat list of axes) for ``n_panels`` panels on a paper-width grid; single column
    for one panel, double column otherwise."""
    ncols = min(n_panels, max_cols)
    nrows = int(np.ceil(n_panels / ncols))
    if width is None:
        width = SINGLE_COLUMN_IN if n_panels == 1 else DOUBLE_COLUMN_IN
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows),
                             sharex=sharex, sharey=sharey, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def spread_text(n_seeds, *, query_se: bool = False) -> str:
    """What the error bars of a figure are, from its points' ``n_seeds`` (``query_se``: the
    one-seed points carry the standard error over test queries, `seeds.query_spread`)."""
    n = pd.Series(n_seeds).dropna()
    if (n.empty or n.max() < 2) and query_se:
        return ("one seed per point: error bars ± 1 standard error over the test queries "
                "(bootstrap for latency percentiles); run the preset with seed=0,1,2 for the "
                "spread over seeds")
    if n.empty or n.max() < 2:
        return ("one seed per point: no error bars (run the preset with seed=0,1,2 for "
                "mean ± std)")
    if query_se:
        return ("error bars ± 1 standard deviation over seeds (points of one seed: ± 1 "
                "standard error over the test queries)")
    seeds = f"{int(n.min())}" if n.min() == n.max() else f"{int(n.min())}–{int(n.max())}"
    return f"points: mean over {seeds} seeds, error bars ± 1 standard deviation"


def errorbar(ax, x, y, *, xerr=None, yerr=None, **kwargs):
    """``ax.errorbar`` with thin caps; a NaN spread (one seed) draws no bar."""
    def clean(err):
        return None if err is None else pd.Series(err, dtype=float).fillna(0.0).to_numpy()
    return ax.errorbar(x, y, xerr=clean(xerr), yerr=clean(yerr), capsize=1.5,
                       elinewidth=0.6, capthick=0.6, **kwargs)


def footnote_text(runs: pd.DataFrame, extra: str = "") -> str:
    d = describe(runs)
    commits = d["commits"]
    shown = ", ".join(commits[:3]) + (f" +{len(commits) - 3} more" if len(commits) > 3 else "")
    parts = [f"data: {', '.join(d['datasets']) or 'unknown'}",
             f"{d['n_runs']} run{'s' if d['n_runs'] != 1 else ''}"
             + (f" of {', '.join(d['experiments'])}" if d["experiments"] else ""),
             f"git {shown}"]
    return " · ".join(parts) + (f" — {extra}" if extra else "")


def add_footnote(fig, runs: pd.DataFrame, extra: str = "") -> None:
    """Grey small print under the axes: datasets, number of runs, presets, git commits (and
    ``extra``, e.g. which setting a panel shows), wrapped to the figure's width."""
    size = 5.5
    width_chars = int(fig.get_figwidth() * 72 / (size * 0.52))
    text = "\n".join(textwrap.wrap(footnote_text(runs, extra), width_chars))
    below = mtransforms.offset_copy(fig.transFigure, fig=fig, y=-3, units="points")
    fig.text(0.0, 0.0, text, ha="left", va="top", fontsize=size, color="0.35",
             transform=below)


def save(fig, out_dir: Path, name: str) -> list[Path]:
    """``<out_dir>/<name>.png`` and ``.pdf`` (the footnote below the axes included)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    # freeze the constrained layout, and pin figure legends to where it put them: the tight
    # bounding box (which takes in the footnote under the figure) must not move them
    fig.canvas.draw()
    fig.set_layout_engine("none")
    for legend in fig.legends:
        legend.set_bbox_to_anchor((0, 0, 1, 1), transform=fig.transFigure)
    for p in paths:
        fig.savefig(p, bbox_inches="tight", pad_inches=0.03)
    plt.close(fig)
    return paths
