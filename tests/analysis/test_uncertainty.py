"""The bootstrap and seed intervals against answers known in advance."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import uncertainty as u


def _rr(n: int, seed: int) -> np.ndarray:
    """Reciprocal-rank-like per-query values: many zeros, some 1, 1/2, 1/3 …"""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.4, 1.0 / rng.integers(1, 11, n), 0.0)


def test_identical_configurations_interval_holds_zero():
    a = [_rr(500, 1), _rr(400, 2)]
    iv = u.paired_difference(a, [x.copy() for x in a])
    assert iv.estimate == 0.0 and iv.low == 0.0 and iv.high == 0.0
    assert iv.contains(0.0)
    assert u.verdict(iv, 0.0, ">") == u.DOES_NOT_HOLD  # not better: equal


def test_constant_shift_interval_is_the_shift():
    a = _rr(1000, 3)
    iv = u.paired_difference([a + 0.05], [a])
    assert iv.estimate == pytest.approx(0.05)
    assert iv.low == pytest.approx(0.05) and iv.high == pytest.approx(0.05)


def test_noisy_shift_interval_around_the_shift():
    rng = np.random.default_rng(4)
    b = [rng.random(2000) for _ in range(3)]
    a = [x + 0.1 + rng.normal(0, 0.2, x.size) for x in b]
    iv = u.paired_difference(a, b, shared_queries=False)  # a test set per seed
    assert iv.low < 0.1 < iv.high and iv.method == "t over 3 seeds"
    # se ~ 0.2/sqrt(6000) = 0.0026; t(0.975, 2) = 4.30: half-width ~0.011
    assert 0.08 < iv.low and iv.high < 0.12
    shared = u.paired_difference(a, b)  # one test set: its query noise is added
    assert shared.low < iv.low and shared.high > iv.high
    assert u.verdict(iv, 0.0, ">") == u.HOLDS
    assert u.verdict(iv, 0.2, ">") == u.DOES_NOT_HOLD
    assert u.verdict(iv, 0.1, ">") == u.INCONCLUSIVE


def test_pairing_narrows_the_interval():
    """A shared per-query difficulty cancels in a paired comparison: the interval of the
    difference is far narrower than either mean's own spread."""
    rng = np.random.default_rng(5)
    difficulty = rng.random(1000)
    a, b = difficulty + 0.01, difficulty.copy()
    iv = u.paired_difference([a], [b])
    alone = u.bootstrap([difficulty[None, :]], lambda m: m[..., 0])
    assert iv.high - iv.low < 1e-12 < alone.high - alone.low


def test_seeded_run_is_reproducible_and_seed_matters():
    a, b = [_rr(300, 6)], [_rr(300, 7)]
    first = u.paired_difference(a, b, seed=11)
    assert u.paired_difference(a, b, seed=11) == first
    other = u.paired_difference(a, b, seed=12)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.estimate == first.estimate


def test_percentile_interval_matches_the_normal_approximation():
    """Mean of 5,000 uniform draws: se = 1/sqrt(12 n); the 95% interval ~ ±1.96 se."""
    rng = np.random.default_rng(8)
    x = rng.random(5000)
    iv = u.bootstrap([x[None, :]], lambda m: m[..., 0])
    se = 1 / np.sqrt(12 * x.size)
    assert iv.high - iv.low == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert iv.contains(x.mean())


def test_seeds_that_disagree_make_the_interval_span_them():
    """Two seeds whose differences have opposite signs: the t interval over the seeds spans
    zero (a single seed's query noise would not)."""
    rng = np.random.default_rng(9)
    b = [rng.random(3000), rng.random(3000)]
    a = [b[0] + 0.05, b[1] - 0.03]
    iv = u.paired_difference(a, b)
    assert iv.estimate == pytest.approx(0.01)
    assert iv.low <= -0.03 + 1e-9 and iv.high >= 0.05 - 1e-9
    assert u.verdict(iv, 0.0, ">") == u.INCONCLUSIVE


def test_ratio_and_joint_statistic():
    rng = np.random.default_rng(10)
    b = rng.random(4000)
    iv = u.paired_ratio([2 * b], [b])
    assert iv.estimate == pytest.approx(2.0) and iv.low == pytest.approx(2.0)
    # min over several paired differences, resampled jointly
    cols = np.stack([b + 0.2, b, b + 0.1])
    iv = u.bootstrap([cols], lambda m: np.minimum(m[..., 0] - m[..., 1],
                                                   m[..., 0] - m[..., 2]))
    assert iv.estimate == pytest.approx(0.1) and iv.low == pytest.approx(0.1)


def test_seed_interval():
    iv = u.seed_interval([1.0, 2.0, 3.0])
    # mean 2, sd 1, t(0.975, 2) = 4.303: half-width 4.303 / sqrt(3) = 2.484
    assert iv.estimate == 2.0
    assert iv.low == pytest.approx(2 - 2.4843, abs=1e-3)
    assert iv.high == pytest.approx(2 + 2.4843, abs=1e-3)
    one = u.seed_interval([0.5])
    assert not one.has_interval and u.verdict(one, 1.0, "<") == u.INCONCLUSIVE
    assert u.seed_summary([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)), 2)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same test queries"):
        u.paired_difference([np.zeros(3)], [np.zeros(4)])
    with pytest.raises(ValueError, match="one array per seed"):
        u.paired_difference([np.zeros(3)], [])
    with pytest.raises(ValueError, match="NaN"):
        u.paired_difference([np.array([np.nan, 1.0])], [np.zeros(2)])
    with pytest.raises(ValueError, match="n_resamples"):
        u.paired_difference([np.zeros(3)], [np.zeros(3)], n_resamples=10)
    with pytest.raises(ValueError, match="direction"):
        u.verdict(u.seed_interval([1.0, 2.0]), 0.0, ">=")


def test_percentile_bootstrap_of_a_latency_ratio():
    # per-request latencies: b is a scaled by 4, request by request → p50 ratio exactly 1/4
    rng = np.random.default_rng(7)
    a = rng.lognormal(-2.0, 0.5, 3000)
    iv = u.bootstrap([np.stack([a, 4 * a])], lambda m: m[..., 0] / m[..., 1], percentile=50)
    assert iv.estimate == pytest.approx(0.25) and iv.low == pytest.approx(0.25)
    assert iv.high == pytest.approx(0.25)
    # one sample: the interval of its median is around the sample median, about as wide as
    # the median's standard error says (1 / (2 f(m) sqrt(n)) = 0.0015 here: width ~0.006)
    med = u.bootstrap([a[None, :]], lambda m: m[..., 0], percentile=50)
    assert med.estimate == pytest.approx(np.median(a))
    assert med.low < np.median(a) < med.high and 0.002 < med.high - med.low < 0.012
    # p99 is the 99th percentile of the values, not of their means
    p99 = u.bootstrap([a[None, :]], lambda m: m[..., 0], percentile=99, n_resamples=200)
    assert p99.estimate == pytest.approx(np.percentile(a, 99))
    with pytest.raises(ValueError, match="percentile"):
        u.bootstrap([a[None, :]], lambda m: m[..., 0], percentile=150)


def test_user_level_bootstrap_where_requests_are_not_independent():
    """60 users with 30 requests each; a user's requests share the user's effect. The
    standard error of the mean over the user population is sd_user / sqrt(60): resampling
    requests misses it (far too narrow), resampling users gets it."""
    rng = np.random.default_rng(12)
    n_users, per_user, sd_user = 60, 30, 0.2
    users = np.repeat(np.arange(n_users), per_user)
    diff = rng.normal(0, sd_user, n_users)[users] + rng.normal(0, 0.05, users.size)
    zeros = np.zeros_like(diff)
    by_request = u.paired_difference([diff], [zeros])
    by_user = u.paired_difference([diff], [zeros], clusters=[users.astype(str)])
    se = diff.reshape(n_users, per_user).mean(axis=1).std(ddof=1) / np.sqrt(n_users)
    assert by_user.high - by_user.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert by_request.high - by_request.low < 0.4 * (by_user.high - by_user.low)
    assert by_user.estimate == by_request.estimate == pytest.approx(diff.mean())
    assert "users" in by_user.method
    with pytest.raises(ValueError, match="clusters"):
        u.paired_difference([diff], [zeros], clusters=[users[:-1]])


def test_user_level_coverage():
    """Over 300 simulated logs the user-level interval covers the true mean ~95% of the time;
    the request-level one does not."""
    rng = np.random.default_rng(13)
    users = np.repeat(np.arange(40), 20)
    hits = {"users": 0, "requests": 0}
    for i in range(300):
        diff = rng.normal(0, 0.2, 40)[users] + rng.normal(0, 0.05, users.size)
        for name, c in (("users", [users]), ("requests", None)):
            iv = u.bootstrap([diff[None, :]], lambda m: m[..., 0], n_resamples=400, seed=i,
                             clusters=c)
            hits[name] += iv.low <= 0.0 <= iv.high
    assert hits["users"] / 300 >= 0.9 and hits["requests"] / 300 < 0.6


def test_p_values_agree_with_the_interval_verdicts():
    rng = np.random.default_rng(14)
    x = rng.normal(0.05, 1.0, 4000)
    one = u.bootstrap([x[None, :]], lambda m: m[..., 0])  # one seed: bootstrap draws
    several = u.seed_interval([0.8, 1.0, 1.2])  # t over 3 seeds
    for iv in (one, several):
        for c in np.linspace(iv.low - 0.5, iv.high + 0.5, 41):
            for d in (">", "<"):
                v = u.verdict(iv, c, d)
                p_holds, p_fails = u.p_values(iv, c, d)
                # away from the bounds (where the percentile interpolates) they agree
                if min(abs(c - iv.low), abs(c - iv.high)) > 1e-3:
                    assert (v == u.HOLDS) == (p_holds < 0.05), (iv.method, c, d)
                    assert (v == u.DOES_NOT_HOLD) == (p_fails < 0.05), (iv.method, c, d)
    assert np.isnan(u.p_values(u.seed_interval([1.0]), 0.0, ">")[0])
    # a band: inside holds, outside does not
    iv = u.seed_interval([3.9, 4.0, 4.1])
    assert u.band_verdict(iv, 3.0, 5.32) == u.HOLDS and u.band_p_values(iv, 3.0, 5.32)[0] < 0.05
    assert u.band_verdict(iv, 1.0, 2.0) == u.DOES_NOT_HOLD
    assert u.band_p_values(iv, 1.0, 2.0)[1] < 0.05
    assert u.combine(u.HOLDS, u.DOES_NOT_HOLD) == u.DOES_NOT_HOLD
    assert u.combine(u.HOLDS, None) == u.HOLDS
    assert u.combine(u.HOLDS, u.INCONCLUSIVE) == u.INCONCLUSIVE
