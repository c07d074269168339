"""Panels: the numbers behind the widgets (KL fits, ELBO + KL, mixture occupancy, readouts)."""

import jax
import numpy as np
import pytest

from vibook.data import load_faithful
from vibook.models import normal_normal_log_evidence, normal_normal_posterior
from vibook.models.bnn import prior_function_draws
from vibook.models.hierarchical import EIGHT_SCHOOLS, eight_schools_tau_posterior
from vibook.panels import (
    BIMODAL,
    bnn_prior_panel,
    coin_readout,
    elbo_panel,
    elbo_readout,
    fit_gaussian_kl,
    kl_panel,
    mixture_occupancy,
    tau_prior_panel,
    tau_prior_readout,
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


@pytest.mark.parametrize(
    ("tau_prior", "tau_scale"),
    [("half_cauchy", 5.0), ("half_cauchy", 0.316), ("half_normal", 100.0), ("uniform", 2.0)],
)
def test_tau_panel_grid_is_fine_enough_for_its_readout(tau_prior, tau_scale):
    # The panel's 4001-point grid against a 50x finer one to the same end (0 to the uniform's
    # scale, else to 150, far past the mass): the docstring promises 3e-4 on the mean and the
    # 90% interval, below the readout's 2 decimals; P(tau < 5) to 1e-4 (shown to 3).
    panel = tau_prior_panel(tau_prior=tau_prior, tau_scale=tau_scale)
    fine = eight_schools_tau_posterior(
        EIGHT_SCHOOLS["y"],
        sigma=EIGHT_SCHOOLS["sigma"],
        tau_grid=np.linspace(0.0, panel["tau"][-1], 200001),
        tau_prior=tau_prior,
        tau_scale=tau_scale,
    )
    assert panel["posterior_mean"] == pytest.approx(fine["posterior_mean"], abs=3e-4)
    np.testing.assert_allclose(panel["interval_90"], fine["interval_90"], atol=3e-4)
    assert panel["p_below"] == pytest.approx(np.interp(5.0, fine["tau"], fine["cdf"]), abs=1e-4)
    assert panel["tau_prior"] == tau_prior and panel["tau_scale"] == tau_scale


def test_tau_panel_heavier_prior_tail_gives_larger_tau():
    # A half-Cauchy(5) prior leaves more posterior mass at large tau than a half-normal(5),
    # and the uniform(0, 5) prior puts none above 5.
    mean = {
        p: tau_prior_panel(tau_prior=p)["posterior_mean"] for p in ("half_cauchy", "half_normal")
    }
    assert mean["half_cauchy"] > mean["half_normal"]
    assert tau_prior_panel(tau_prior="uniform")["p_below"] == pytest.approx(1.0, abs=1e-12)


def test_tau_readout_format_and_bad_input():
    panel = {"posterior_mean": 3.5977, "interval_90": np.array([0.2464, 9.842]), "threshold": 5.0}
    text = tau_prior_readout({**panel, "p_below": 0.75071})
    assert text == "posterior mean of tau = 3.60, 90% interval = [0.25, 9.84], P(tau < 5) = 0.751"
    with pytest.raises(ValueError, match="panel lacks the key"):
        tau_prior_readout({})
    with pytest.raises(ValueError, match=r"panel\['interval_90'\]"):
        tau_prior_readout({**panel, "p_below": 0.5, "interval_90": np.array([1.0, 2.0, 3.0])})
    with pytest.raises(ValueError, match="tau_prior must be one of"):
        tau_prior_panel(tau_prior="gamma")
    with pytest.raises(ValueError, match="tau_scale"):
        tau_prior_panel(tau_scale=0.0)


@pytest.mark.parametrize(
    ("width", "activation", "prior_scale", "seed", "num_draws"),
    [(50, "tanh", 1.0, 0, 20), (1, "relu", 0.3, 1, 20), (200, "sigmoid", 3.0, 0, 4),
     (7, "gelu", 1.0, 2, 5), (230, "sin", 1.0, 0, 3)],
)  # fmt: skip
def test_bnn_panel_draws_are_prior_function_draws(width, activation, prior_scale, seed, num_draws):
    # Drawn padded to 200 units (up to 200 wide), the panel must still show the functions
    # prior_function_draws gives for that key: same weights, so equal to float32 rounding.
    panel = bnn_prior_panel(
        prior_scale=prior_scale, width=width, activation=activation, seed=seed, num_draws=num_draws
    )
    exact = prior_function_draws(
        jax.random.key(seed),
        panel["x"][:, None],
        num_draws=num_draws,
        hidden=(width,),
        activation=activation,
        prior_scale=prior_scale,
    )
    assert panel["draws"].shape == (num_draws, 200)
    np.testing.assert_allclose(panel["draws"], np.asarray(exact), rtol=1e-5, atol=1e-5)
    assert panel["sd"] == pytest.approx(float(np.asarray(exact).std(0).mean()), rel=1e-5)


def test_mixture_occupancy_is_the_same_fit_each_time():
    raw = load_faithful()
    x = (raw - raw.mean(0)) / raw.std(0)
    one, two = (mixture_occupancy(x, n_components=4, concentration=0.1) for _ in range(2))
    for key in ("weights", "locs", "covariances", "labels"):
        np.testing.assert_array_equal(one[key], two[key])


def test_bnn_panel_compiles_nothing_for_a_new_width_or_scale(count_compilations):
    # What makes the width slider answer at once: every width up to 200 is one program.
    bnn_prior_panel(width=50)
    with count_compilations() as compiled:
        for width in (3, 77, 200):
            bnn_prior_panel(width=width, prior_scale=0.4)
    assert compiled.count == 0, compiled.names
