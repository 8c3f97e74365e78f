"""Each hyperparameter has one default (xmr.params), which the estimators, the PECOS adapter
and the config schema all take; the estimators are scikit-learn estimators for get_params,
set_params and clone."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest
from sklearn.base import clone

from baselines.ovr_linear import OVRLinear
from baselines.pecos_peer import PecosXRLinear
from xmr import XRLinear
from xmr.params import DualEncoderParams, KMeansParams, LinearParams, XRLinearParams, defaults


def _dual_encoder():
    pytest.importorskip("torch")
    from baselines.dual_encoder import DualEncoder

    return DualEncoder


def init_defaults(cls) -> dict:
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()}


@pytest.mark.parametrize(("cls", "params"), [
    (XRLinear, XRLinearParams), (XRLinear, KMeansParams), (OVRLinear, LinearParams),
    (PecosXRLinear, XRLinearParams)])
def test_estimator_defaults_are_the_params_defaults(cls, params):
    d = init_defaults(cls)
    own = {f.name for f in fields(params)} - ({"max_iter"} if params is KMeansParams else set())
    assert {k: d[k] for k in own} == {k: v for k, v in defaults(params).items() if k in own}


def test_dual_encoder_defaults_are_the_params_defaults():
    d = init_defaults(_dual_encoder())
    assert {k: d[k] for k in defaults(DualEncoderParams)} == defaults(DualEncoderParams)


def test_pecos_kmeans_iterations_default_to_the_indexer_default():
    assert init_defaults(PecosXRLinear)["kmeans_max_iter"] == KMeansParams.max_iter


@pytest.mark.parametrize("make", [
    lambda: XRLinear(threshold=0.3, nr_splits=4, negative_sampling="man"),
    lambda: OVRLinear(threshold=0.3, Cp=2.0, chunk_size=7),
    lambda: _dual_encoder()(dim=32, epochs=3, device="cpu")])
def test_clone_and_set_params(make):
    est = make()
    twin = clone(est)
    assert type(twin) is type(est) and twin is not est
    assert twin.get_params() == est.get_params()
    assert twin.set_params(seed=5) is twin and twin.get_params()["seed"] == 5
    assert est.get_params()["seed"] == 0
    with pytest.raises(ValueError, match="Invalid parameter"):
        twin.set_params(no_such_parameter=1)
