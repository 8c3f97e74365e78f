"""The smoke presets give the same accuracy metrics (and model sizes) as recorded in
``smoke_golden.json`` at the same seeds: a refactoring of the job path, the configs or the
library must not move them. Re-record with ``python -m tests.experiments.golden`` only for a
change meant to move them."""

from __future__ import annotations

import json
import math

import pytest

from tests.experiments.golden import GOLDEN, PRESETS, run_preset

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("preset", PRESETS)
def test_smoke_preset_matches_golden(preset, tmp_path):
    expected = json.loads(GOLDEN.read_text())[preset]
    got = run_preset(preset, tmp_path)
    assert sorted(got) == sorted(expected), "the grid points of the preset changed"
    for point, metrics in expected.items():
        assert sorted(got[point]) == sorted(metrics), point
        for name, value in metrics.items():
            if name == "model_nnz":
                assert got[point][name] == value, f"{point}: {name}"
            else:  # the same arithmetic in the same order: equal up to float noise
                assert math.isclose(got[point][name], value, rel_tol=1e-9, abs_tol=1e-12), \
                    f"{point}: {name} {got[point][name]} != golden {value}"
