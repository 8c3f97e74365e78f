"""Each hyperparameter has one default (xmr.params), which the estimators, the PECOS adapter
and the config schema all take; the estimators are scikit-learn estimators for get_params,
set_params and clone."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from baselines.ovr_linear import OVRLinear
from baselines.pecos_peer import PecosXRLinear
from xmr import XRLinear
from xmr.params import (
    DualEncoderParams,
    KMeansParams,
    LinearParams,
    Seq2SeqParams,
    XRLinearParams,
    defaults,
)

REPO = Path(__file__).resolve().parents[2]


def _dual_encoder():
    pytest.importorskip("torch")
    from baselines.dual_encoder import DualEncoder

    return DualEncoder


def _seq2seq():
    pytest.importorskip("torch")
    from baselines.seq2seq import Seq2SeqCompleter

    return Seq2SeqCompleter


def init_defaults(cls) -> dict:
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()}


@pytest.mark.parametrize(("cls", "params"), [
    (XRLinear, XRLinearParams), (XRLinear, KMeansParams), (OVRLinear, LinearParams),
    (PecosXRLinear, XRLinearParams)])
def test_estimator_defaults_are_the_params_defaults(cls, params):
    d = init_defaults(cls)
    own = {f.name for f in fields(params)} - ({"max_iter"} if params is KMeansParams else set())
    assert {k: d[k] for k in own} == {k: v for k, v in defaults(params).items() if k in own}


@pytest.mark.parametrize(("make", "params"), [(_dual_encoder, DualEncoderParams),
                                               (_seq2seq, Seq2SeqParams)])
def test_torch_baseline_defaults_are_the_params_defaults(make, params):
    d = init_defaults(make())
    assert {k: d[k] for k in defaults(params)} == defaults(params)


def test_pecos_kmeans_iterations_default_to_the_indexer_default():
    assert init_defaults(PecosXRLinear)["kmeans_max_iter"] == KMeansParams.max_iter


@pytest.mark.parametrize("make", [
    lambda: XRLinear(threshold=0.3, nr_splits=4, negative_sampling="man"),
    lambda: OVRLinear(threshold=0.3, Cp=2.0, chunk_size=7),
    lambda: _dual_encoder()(dim=32, epochs=3, device="cpu"),
    lambda: _seq2seq()(hidden=32, beam_size=4, device="cpu")])
def test_clone_and_set_params(make):
    est = make()
    twin = clone(est)
    assert type(twin) is type(est) and twin is not est
    assert twin.get_params() == est.get_params()
    assert twin.set_params(seed=5) is twin and twin.get_params()["seed"] == 5
    assert est.get_params()["seed"] == 0
    with pytest.raises(ValueError, match="Invalid parameter"):
        twin.set_params(no_such_parameter=1)


def test_the_library_imports_no_heavy_package():
    """`import xmr` (what a process that only trains and predicts loads) pulls in neither
    scikit-learn (with scipy.stats, pandas, pyarrow: ~120 MiB resident) nor torch or MLflow;
    nor does the one-vs-rest baseline built on the same solver."""
    code = ("import sys, xmr, xmr.timing, baselines.ovr_linear; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'sklearn', 'pandas', 'pyarrow', 'torch', 'mlflow', 'hydra', 'omegaconf'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("cls", [XRLinear, OVRLinear])
def test_unfitted_errors_are_scikit_learns(cls):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        cls().predict(sp.csr_matrix((1, 3), dtype=np.float32))


def test_nested_params_and_repr():
    est = XRLinear(threshold=0.3, seed=2)
    assert repr(est) == "XRLinear(seed=2, threshold=0.3)"
    assert XRLinear._get_param_names() == sorted(inspect.signature(XRLinear).parameters)


def test_release_free_memory_runs():
    from xmr._memory import release_free_memory

    release_free_memory()  # glibc: malloc_trim(0); elsewhere a no-op
