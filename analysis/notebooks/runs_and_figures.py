# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The harness's runs, figures and tables
#
# A thin view over `analysis/`: load the MLflow runs (FINISHED, latest per grid point), then
# build and show every figure and table with the same code as `python -m analysis.figures`.
# Nothing is recomputed here. Settings come from the environment: `ANALYSIS_TRACKING_URI`
# (else `$MLFLOW_TRACKING_URI`, else `logs/mlflow.db` of this repository),
# `ANALYSIS_EXPERIMENT` (a preset such as `product_search`; default all) and `ANALYSIS_OUT`
# (default `analysis/figures`). Open it with jupytext, or run it: `python <this file>`.

# %%
import os
from pathlib import Path

from analysis import figures, load

try:
    from IPython.display import Image, Markdown, display
except ImportError:  # run as a plain script: say where things are instead
    Image = Markdown = str
    display = print

here = Path.cwd()
REPO = next((p for p in (here, *here.parents) if (p / "conf" / "config.yaml").is_file()), here)
TRACKING_URI = load.resolve_tracking_uri(os.environ.get("ANALYSIS_TRACKING_URI"),
                                         log_dir=REPO / "logs")
EXPERIMENT = os.environ.get("ANALYSIS_EXPERIMENT") or None
OUT = Path(os.environ.get("ANALYSIS_OUT", REPO / "analysis" / "figures"))

runs = load.load_runs(TRACKING_URI, experiment=EXPERIMENT)
print(f"{len(runs)} runs from {TRACKING_URI}")
runs[["experiment", "dataset", "model", "features", "threshold", "beam_size",
      "recall_at_10", "latency_p50_ms", "model_nnz", "run_id"]].head(20)

# %% [markdown]
# ## Every figure and table

# %%
results = figures.build_all(runs, OUT)
for r in results:
    is_table = any(p.suffix == ".md" for p in r.files)  # a table's title is in its .md
    display(Markdown(f"### {r.name}\n\n{r.missing or ('' if is_table else r.caption)}"))
    for path in r.files:
        if path.suffix == ".png":
            display(Image(filename=str(path)) if Image is not str else str(path))
        elif path.suffix == ".md":
            display(Markdown(path.read_text()))
