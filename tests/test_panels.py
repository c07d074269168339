"""Panels: the numbers behind the widgets (KL fits, ELBO + KL, mixture occupancy, readouts)."""

import numpy as np
import pytest

from vibook.data import load_faithful
from vibook.models import normal_normal_log_evidence, normal_normal_posterior
from vibook.panels import (
    BIMODAL,
    coin_readout,
    elbo_panel,
    elbo_readout,
    fit_gaussian_kl,
    kl_panel,
    mixture_occupancy,
)

X = np.random.default_rng(0).normal(1.0, 1.0, size=15)


def test_kl_of_a_gaussian_to_itself_is_zero_and_matches_closed_form():
    one = {"weights": (1.0,), "locs": (0.5,), "scales": (2.0,)}
    p = kl_panel(0.5, 2.0, target=one)
    assert abs(p["kl_qp"]) < 1e-8 and abs(p["kl_pq"]) < 1e-8
    # KL(N(0,1) || N(0.5, 2^2)) = log 2 + (1 + 0.25) / 8 - 1/2
    want = np.log(2.0) + 1.25 / 8 - 0.5
    assert abs(kl_panel(0.0, 1.0, target=one)["kl_qp"] - want) < 1e-6


def test_forward_kl_matches_moments_and_reverse_kl_picks_a_mode():
    loc, scale = fit_gaussian_kl("forward")
    assert loc == pytest.approx(0.0) and scale == pytest.approx(np.sqrt(0.36 + 4.0))
    right = fit_gaussian_kl("reverse", init=(1.0, 1.0))
    left = fit_gaussian_kl("reverse", init=(-1.0, 1.0))
    # Each mode is N(+-2, 0.6^2) with the other 4 sd away: the fit is that mode, nearly.
    assert right[0] == pytest.approx(2.0, abs=0.05) and right[1] == pytest.approx(0.6, abs=0.02)
    assert left[0] == pytest.approx(-2.0, abs=0.05)
    assert BIMODAL["locs"] == (-2.0, 2.0)
    with pytest.raises(ValueError, match="direction"):
        fit_gaussian_kl("sideways")


def test_elbo_plus_kl_is_the_log_evidence():
    post = normal_normal_posterior(X)
    log_ev = normal_normal_log_evidence(X)
    for m, s in [(0.0, 0.1), (1.0, 1.0), (float(post.loc), float(post.scale))]:
        p = elbo_panel(X, m, s)
        assert p["elbo"] <= log_ev + 1e-9
        assert p["elbo"] + p["kl"] == pytest.approx(log_ev, abs=1e-9)
    assert elbo_panel(X, float(post.loc), float(post.scale))["kl"] == pytest.approx(0, abs=1e-12)
    assert "log p(x)" in elbo_readout(p)
    with pytest.raises(ValueError, match="q_scale"):
        elbo_panel(X, 0.0, -1.0)


def test_small_dirichlet_concentration_empties_surplus_clusters():
    raw = load_faithful()
    x = (raw - raw.mean(0)) / raw.std(0)
    assert mixture_occupancy(x, n_components=6, concentration=1e-3)["n_used"] == 2
    assert mixture_occupancy(x, n_components=6, concentration=1e3)["n_used"] == 6


def test_readout_format():
    text = coin_readout({"posterior_mean": 0.5, "posterior_sd": 0.1, "log_evidence": -2.0})
    assert text == "posterior mean = 0.500, posterior sd = 0.100, log evidence = -2.000"
    with pytest.raises(ValueError, match="panel lacks the key"):
        coin_readout({})
