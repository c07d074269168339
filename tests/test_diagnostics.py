"""Posterior comparison and NUTS diagnostics against cases with known answers, and the
divergences of a real NUTS run, and a known mask laid over it, reported in words."""

import arviz_base as azb
import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from vibook import run_nuts
from vibook.diagnostics import compare_posteriors, nuts_diagnostics

RNG = np.random.default_rng(0)
N_CHAINS, N_DRAWS = 4, 1000


def _tree(posterior, sample_stats=None):
    groups = {"posterior": posterior}
    if sample_stats is not None:
        groups["sample_stats"] = sample_stats
    return azb.from_dict(groups, dims={"theta": ["school"]})


def _normal_tree(loc, scale, seed):
    rng = np.random.default_rng(seed)
    return _tree(
        {
            "mu": rng.normal(loc, scale, (N_CHAINS, N_DRAWS)),
            "theta": rng.normal(loc, scale, (N_CHAINS, N_DRAWS, 3)),
        }
    )


@pytest.fixture(scope="module")
def table():
    fits = {"ref": _normal_tree(0.0, 1.0, 1), "shifted": _normal_tree(1.0, 1.0, 2)}
    return compare_posteriors(fits, ci_prob=0.9)


def test_compare_posteriors_tidy_table_per_scalar(table):
    assert list(table.columns) == [
        "variable",
        "method",
        "mean",
        "sd",
        "ci_low",
        "ci_high",
        "wasserstein",
        "wasserstein_sd",
    ]
    assert table["variable"].unique().tolist() == ["mu", "theta[0]", "theta[1]", "theta[2]"]
    assert len(table) == 8
    ref = table[table["method"] == "ref"]
    assert (ref["wasserstein"] == 0).all()


def test_compare_posteriors_numbers_match_normal_theory(table):
    # 4000 draws of N(0, 1): the sample mean has sd 0.016 and the sample sd about 0.011;
    # the 5% and 95% sample quantiles have sd about 0.027. Tolerances are ~4 of those.
    ref = table[table["method"] == "ref"]
    np.testing.assert_allclose(ref["mean"], 0.0, atol=0.07)
    np.testing.assert_allclose(ref["sd"], 1.0, atol=0.05)
    np.testing.assert_allclose(ref["ci_low"], -1.645, atol=0.11)
    np.testing.assert_allclose(ref["ci_high"], 1.645, atol=0.11)
    # W1 between N(0, 1) and N(1, 1) is exactly the shift, 1; two samples of 4000 draws add
    # an error of order 0.03 (sd of the difference of means 0.022 plus shape noise).
    shifted = table[table["method"] == "shifted"]
    np.testing.assert_allclose(shifted["wasserstein"], 1.0, atol=0.1)
    np.testing.assert_allclose(shifted["wasserstein_sd"], shifted["wasserstein"] / ref["sd"].values)


def test_compare_posteriors_wasserstein_of_scale_change():
    # W1 between N(0, 1) and N(0, s^2) is |s - 1| * E|Z| = |s - 1| * sqrt(2 / pi).
    fits = {"a": _normal_tree(0.0, 1.0, 3), "b": _normal_tree(0.0, 3.0, 4)}
    t = compare_posteriors(fits, var_names=["mu"])
    w = t.loc[t["method"] == "b", "wasserstein"].item()
    assert w == pytest.approx(2 * np.sqrt(2 / np.pi), abs=0.1)


def test_compare_posteriors_reference_and_errors():
    fits = {"a": _normal_tree(0.0, 1.0, 5), "b": _normal_tree(2.0, 1.0, 6)}
    t = compare_posteriors(fits, var_names="mu", reference="b")
    assert t.loc[t["method"] == "b", "wasserstein"].item() == 0
    with pytest.raises(ValueError, match="at least two"):
        compare_posteriors({"a": fits["a"]})
    with pytest.raises(TypeError, match="dict of method name"):
        compare_posteriors([fits["a"], fits["b"]])
    with pytest.raises(ValueError, match="reference must be one of"):
        compare_posteriors(fits, reference="c")
    with pytest.raises(ValueError, match="var_names must name variables among"):
        compare_posteriors(fits, var_names=["nope"])
    with pytest.raises(TypeError, match="'posterior' group"):
        compare_posteriors({"a": fits["a"], "b": np.zeros(3)})
    with pytest.raises(ValueError, match="ci_prob"):
        compare_posteriors(fits, ci_prob=1.5)


def _stats(diverging=None, energy=None, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "diverging": np.zeros((N_CHAINS, N_DRAWS), bool) if diverging is None else diverging,
        # White-noise energy has E-BFMI = E[(dE)^2] / Var(E) = 2.
        "energy": rng.normal(size=(N_CHAINS, N_DRAWS)) if energy is None else energy,
    }


def test_nuts_diagnostics_pass_on_iid_draws():
    diag = nuts_diagnostics(_tree({"mu": RNG.normal(size=(N_CHAINS, N_DRAWS))}, _stats()))
    assert diag.ok and diag.problems == ()
    assert diag.n_divergent == 0 and diag.n_draws == N_CHAINS * N_DRAWS
    # White noise: E-BFMI near 2 (sd ~0.05 with 1000 draws), R-hat near 1, ESS near 4000.
    np.testing.assert_allclose(diag.bfmi, 2.0, atol=0.25)
    assert diag.table.loc["mu", "r_hat"] < 1.01
    assert diag.table.loc["mu", "ess_bulk"] > 3000
    assert "All checks passed" in str(diag)


def test_nuts_diagnostics_name_each_failure_in_words():
    draws = RNG.normal(size=(N_CHAINS, N_DRAWS))
    draws[0] += 3.0  # one chain stuck elsewhere: R-hat far above 1.01
    slow = np.cumsum(RNG.normal(size=(N_CHAINS, N_DRAWS)), axis=1)  # a random walk
    diverging = np.zeros((N_CHAINS, N_DRAWS), bool)
    diverging[1, :25] = True
    # A random-walk energy changes little per step relative to its spread: E-BFMI << 0.3.
    energy = np.cumsum(RNG.normal(size=(N_CHAINS, N_DRAWS)), axis=1)
    diag = nuts_diagnostics(
        _tree({"mu": draws, "tau": slow}, _stats(diverging=diverging, energy=energy))
    )
    assert not diag.ok
    assert diag.n_divergent == 25 and diag.divergent_fraction == pytest.approx(25 / 4000)
    text = " ".join(diag.problems)
    assert "25 of 4000 transitions (0.6%) diverged" in text
    assert "non-centred" in text
    rhat_problem = next(p for p in diag.problems if p.startswith("R-hat above 1.01 for"))
    assert "mu" in rhat_problem and "tau" in rhat_problem and "chains disagree" in rhat_problem
    assert "Bulk ESS below 400" in text and "tau" in text
    assert "E-BFMI below 0.3" in text
    assert np.all(diag.bfmi < 0.3)
    assert "PROBLEMS" in diag.report()


def test_nuts_diagnostics_bad_input():
    svi_like = _tree({"mu": RNG.normal(size=(1, 100))})
    with pytest.raises(ValueError, match="sample_stats"):
        nuts_diagnostics(svi_like)
    with pytest.raises(TypeError, match="'posterior' group"):
        nuts_diagnostics({"mu": 1})
    with pytest.raises(ValueError, match="rhat_max"):
        nuts_diagnostics(_tree({"mu": RNG.normal(size=(4, 100))}, _stats()), rhat_max=-1.0)


# ------------------------------------------------------------------ NUTS divergences


Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def _schools_centred(y, sigma):
    """Eight schools (Rubin 1981), centred: theta's scale is tau, a funnel for NUTS."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(y)):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def _schools_noncentred(y, sigma):
    """The same model with theta = mu + tau * z: NUTS sees independent standard Normals."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(y)):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * z)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


@pytest.fixture(scope="module")
def schools():
    kw = {"num_warmup": 300, "num_draws": 300, "num_chains": 2}
    return (
        run_nuts(jax.random.key(0), _schools_centred, Y, SIGMA, **kw),
        run_nuts(jax.random.key(0), _schools_noncentred, Y, SIGMA, **kw),
    )


def test_nuts_divergences_are_counted_and_reported_in_plain_words(schools):
    from vibook.diagnostics import nuts_diagnostics

    centred, noncentred = schools
    diverging = centred.sample_stats["diverging"]
    assert diverging.dtype == bool and diverging.dims == ("chain", "draw")
    # How many transitions diverge in the funnel is chaotic in the last bits of floating point:
    # key 0 gave 12 here and 4 on another CPU, and keys 0-5 gave 1 to 26. So the counting and the
    # words are checked on a known mask laid over the real run, and the real runs only for
    # agreement between the count and the array it is read from.
    assert nuts_diagnostics(centred).n_divergent == int(diverging.sum())
    assert nuts_diagnostics(noncentred).n_divergent == int(
        noncentred.sample_stats["diverging"].sum()
    )
    marked = centred.copy(deep=True)
    mask = marked["sample_stats"]["diverging"].values  # the copy's own array, written in place
    mask[:] = False
    mask[0, [3, 50, 51]] = True
    mask[1, [7, 299]] = True  # 5 in all, in both chains, the last draw included
    diag = nuts_diagnostics(marked)
    assert diag.n_divergent == 5 and diag.n_draws == 600
    assert "divergences: 5 of 600 draws" in diag.report()
    sentence = next(p for p in diag.problems if "diverged" in p)
    assert sentence.startswith("5 of 600 transitions")
    assert "non-centred" in sentence and "target_accept_prob" in sentence  # what to try
    mask[:] = False
    calm = nuts_diagnostics(marked)
    assert calm.n_divergent == 0 and not any("diverged" in p for p in calm.problems)
