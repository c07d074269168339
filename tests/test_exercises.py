"""The exercises: their checkers, the notebooks' exercise cells, and the student edition.

Every checker is fed the stub (it says "not yet answered"), plausible wrong answers (each must
get the message for its mistake), and the right answer computed a second way: with SciPy,
scikit-learn or NumPyro, by numerical integration or optimisation, never with the checker's own
formula. No answer makes a checker raise. The notebooks' exercises are checked for their
nbgrader markup, and the student edition of notebooks 01-13 (``scripts/student_edition.py``)
is run top to bottom: nothing fails and every checker says "not yet answered".
"""

import importlib.util
import itertools
import json
import math
import re
from pathlib import Path

import jax
import nbformat
import numpy as np
import numpyro.distributions as dist
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, not_yet, says
from numpyro.infer.util import log_density
from scipy import integrate, optimize, stats
from sklearn.mixture import GaussianMixture

import vibook.exercises as exercises
from vibook.cavi import cavi_normal_gamma, normal_gamma_elbo
from vibook.data import load_faithful
from vibook.exercises import (
    Feedback,
    check_beta_posterior,
    check_cavi_start_prediction,
    check_cavi_update,
    check_e_step,
    check_evidence_prediction,
    check_gaussian_kl,
    check_grid_posterior,
    check_label_copies,
    check_m_step,
    check_mc_elbo,
    check_point_responsibilities,
    check_reverse_kl_prediction,
)
from vibook.models import normal_normal
from vibook.models.normal_gamma import NormalGamma, normal_gamma_posterior

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "vibook_student_edition", ROOT / "scripts" / "student_edition.py"
)
edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(edition)

# Every notebook from 01 on ends with its exercises; 00, the quickstart, has none.
EXERCISE_NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))[1:]


# ------------------------------------------------------------------------------ Feedback
def test_feedback_reads_the_same_in_jupyter_and_in_print():
    result = Feedback("03.1", "wrong", "the sign is flipped in s1**2 / lambda_0")
    assert not result.ok and Feedback("03.1", "right", "yes").ok
    assert str(result) == repr(result)
    assert str(result).startswith("Exercise 03.1, not right yet: the sign")
    markdown = result._repr_markdown_()
    assert markdown.startswith("**Exercise 03.1, not right yet.**")
    assert r"s1\*\*2" in markdown and r"lambda\_0" in markdown  # code, not emphasis
    with pytest.raises(ValueError, match="status"):
        Feedback("03.1", "maybe", "?")


NG_PRIOR = NormalGamma(mu=0.0, lam=0.1, a=1.0, b=1.0)
X_NG = np.random.default_rng(0).normal(1.0, 0.5, size=20)  # notebook 04's data
X_NN = np.random.default_rng(0).normal(1.0, 1.0, size=20)  # notebook 03's data
VALUE_CHECKERS = {
    "beta_posterior": lambda ans: check_beta_posterior(ans, a=2.0, b=2.0, heads=19, tails=11),
    "evidence": lambda ans: check_evidence_prediction(ans, heads=7, flips=10),
    "point_resp": lambda ans: check_point_responsibilities(
        ans, x=0.0, weights=[0.3, 0.7], locs=[-1.0, 2.0], scales=[1.0, 1.0]
    ),
    "label_copies": lambda ans: check_label_copies(ans, n_components=3),
    "gaussian_kl": lambda ans: check_gaussian_kl(
        ans, q_loc=1.0, q_scale=0.5, p_loc=0.0, p_scale=1.0
    ),
    "reverse_kl": lambda ans: check_reverse_kl_prediction(ans, peak=4.0, scale=0.6),
    "cavi_update": lambda ans: check_cavi_update(ans, x=X_NG, prior=NG_PRIOR, e_tau=4.0),
    "cavi_start": lambda ans: check_cavi_start_prediction(ans, x=X_NG, prior=NG_PRIOR),
}
FUNCTION_CHECKERS = {
    "grid": lambda f: check_grid_posterior(f, heads=7, flips=10, a=2.0, b=2.0),
    "e_step": lambda f: check_e_step(
        f,
        x=np.eye(3)[:, :2],
        weights=[0.5, 0.5],
        means=np.eye(2),
        covariances=np.stack([np.eye(2)] * 2),
    ),
    "mc_elbo": lambda f: check_mc_elbo(f, x=X_NN, q_loc=0.5, q_scale=0.5, num_draws=50),
    "m_step": lambda f: check_m_step(f, x=np.eye(3)[:, :2], resp=np.full((3, 2), 0.5)),
}


@pytest.mark.parametrize("name", sorted(VALUE_CHECKERS))
def test_value_checkers_report_the_stub_and_never_raise(name):
    check = VALUE_CHECKERS[name]
    for stub in STUBS:
        not_yet(check(stub))
    for answer in ODD_ANSWERS:
        says(check(answer), "wrong")


@pytest.mark.parametrize("name", sorted(FUNCTION_CHECKERS))
def test_function_checkers_report_the_stub_and_never_raise(name):
    check = FUNCTION_CHECKERS[name]
    for stub in STUBS:
        not_yet(check(stub))
        not_yet(check(lambda *args, stub=stub: stub))  # a function whose body is the stub
    for func in ODD_FUNCTIONS:
        says(check(func), "wrong")
    says(check(lambda *args: 1 / 0), "wrong", "raised ZeroDivisionError")
    says(check(3), "wrong", "must be a function")


def test_every_checker_is_tried():
    """Notebooks 01-04's checkers are tried here; each later notebook's in tests/exercises/."""
    tried = {"check_" + n for n in ("beta_posterior", "evidence_prediction", "grid_posterior")}
    tried |= {"check_point_responsibilities", "check_label_copies", "check_e_step"}
    tried |= {"check_gaussian_kl", "check_mc_elbo", "check_reverse_kl_prediction"}
    tried |= {"check_cavi_update", "check_m_step", "check_cavi_start_prediction"}
    assert len(VALUE_CHECKERS) + len(FUNCTION_CHECKERS) == len(tried)
    untried = []
    for name in (n for n in exercises.__all__ if n.startswith("check_")):
        module = getattr(exercises, name).__module__.rsplit(".", 1)[1]
        if module in ("bayes_theorem", "latent_variables", "kl_and_elbo", "coordinate_ascent"):
            found = name in tried
        else:
            tests = ROOT / "tests" / "exercises" / f"test_{module}.py"
            found = tests.is_file() and f"{name}(" in tests.read_text()
        if not found:
            untried.append(name)
    assert not untried, f"checkers no test calls: {untried}"


# ------------------------------------------------------------------------------ 01.1
def _beta_posterior_by_quadrature(a, b, heads, tails):
    """(a_post, b_post, mean) from the posterior's moments, integrated numerically."""
    n = heads + tails

    def unnormalised(t, power=0):
        return t**power * stats.binom.pmf(heads, n, t) * stats.beta.pdf(t, a, b)

    z = integrate.quad(unnormalised, 0, 1, epsabs=0, epsrel=1e-12)[0]
    mean = integrate.quad(unnormalised, 0, 1, args=(1,), epsabs=0, epsrel=1e-12)[0] / z
    second = integrate.quad(unnormalised, 0, 1, args=(2,), epsabs=0, epsrel=1e-12)[0] / z
    total = mean * (1 - mean) / (second - mean**2) - 1  # a + b of a Beta from its moments
    return mean * total, (1 - mean) * total, mean


def test_beta_posterior_right_answer_from_its_moments():
    answer = _beta_posterior_by_quadrature(2.0, 2.0, 19, 11)
    says(check_beta_posterior(answer, a=2.0, b=2.0, heads=19, tails=11), "right", "Beta(21, 13)")
    rounded = tuple(round(v, 3) for v in answer)  # three figures are enough
    assert check_beta_posterior(rounded, a=2.0, b=2.0, heads=19, tails=11).ok


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ((2, 2, 0.5), "the prior's parameters"),
        ((13, 21, 13 / 34), "swapped"),
        ((19, 11, 19 / 30), "prior is left out"),
        ((21, 32, 21 / 53), "tails, not all the flips"),
        ((21, 32, 21 / 34), "tails, not all the flips"),  # b wrong, the mean from the right b
        ((21, 13, 20 / 32), "the mode"),
        ((21, 13, 21 / 13), "not a / b"),
        ((21, 13, 19 / 30), "observed frequency"),
        ((21, 14, 0.3), "Of the 3 numbers, a_post is right, b_post and the mean are not"),
        ((21, 13), "shape (3,)"),
        ("21, 13", "must be numbers"),
        ((21, np.nan, 0.6), "NaN"),
    ],
)
def test_beta_posterior_recognised_mistakes(answer, phrase):
    says(check_beta_posterior(answer, a=2.0, b=2.0, heads=19, tails=11), "wrong", phrase)


# ------------------------------------------------------------------------------ 01.2
def _scipy_grid(theta, heads, flips, a, b):
    p = stats.binom.pmf(heads, flips, theta) * stats.beta.pdf(theta, a, b)
    return p / p.sum()


def test_grid_posterior_right_answer_from_scipy():
    says(check_grid_posterior(_scipy_grid, heads=7, flips=10, a=2.0, b=2.0), "right")

    def conjugate(t, h, n, a, b):  # Beta(a + h, b + n - h) on the grid, normalised
        p = stats.beta.pdf(t, a + h, b + n - h)
        return p / p.sum()

    says(check_grid_posterior(conjugate, heads=70, flips=100, a=20.0, b=2.0), "right")


@pytest.mark.parametrize(
    ("func", "phrase"),
    [
        (lambda t, h, n, a, b: _scipy_grid(t, h, n, a, b) * t.size, "it is a density"),
        (lambda t, h, n, a, b: _scipy_grid(t, h, n, a, b) * 3, "it sums to 3"),
        (lambda t, h, n, a, b: _scipy_grid(t, h, n, 1.0, 1.0), "the likelihood alone"),
        (lambda t, h, n, a, b: stats.beta.pdf(t, a, b) / 801, "the prior alone"),
        (lambda t, h, n, a, b: _scipy_grid(t, n - h, n, a, b), "Heads and tails are swapped"),
        (lambda t, h, n, a, b: -_scipy_grid(t, h, n, a, b), "negative values"),
        (lambda t, h, n, a, b: np.log(_scipy_grid(t, h, n, a, b)), "logarithms"),
        (lambda t, h, n, a, b: _scipy_grid(t, h, n, a, b)[:-1], "shape (801,)"),
        (lambda t, h, n, a, b: _scipy_grid(t, h, n, a, b)[None], "shape (801,)"),
        (lambda t, h, n, a, b: np.ones_like(t) / t.size, "Not the posterior"),
    ],
)
def test_grid_posterior_recognised_mistakes(func, phrase):
    says(check_grid_posterior(func, heads=7, flips=10, a=2.0, b=2.0), "wrong", phrase)


# ------------------------------------------------------------------------------ 01.3
def _evidence_by_quadrature(heads, flips, a, b):
    def f(t):
        return stats.binom.pmf(heads, flips, t) * stats.beta.pdf(t, a, b)

    return integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-10)[0]


@pytest.mark.parametrize(("heads", "flips"), [(7, 10), (70, 100)])
def test_evidence_prediction_right_answer_by_quadrature(heads, flips):
    z = {
        k: _evidence_by_quadrature(heads, flips, *p)
        for k, p in (("weak", (2, 2)), ("strong", (20, 20)))
    }
    winner = max(z, key=z.get)
    loser = "weak" if winner == "strong" else "strong"
    says(check_evidence_prediction(f" {winner.upper()} ", heads=heads, flips=flips), "right")
    says(check_evidence_prediction(loser, heads=heads, flips=flips), "wrong", f"It is the {winner}")
    assert winner == ("strong" if flips == 10 else "weak")  # the notebook's two cases


def test_evidence_prediction_refuses_other_strings_and_no_data():
    says(check_evidence_prediction("Beta(20, 20)", heads=7, flips=10), "wrong", "'weak' or")
    with pytest.raises(ValueError, match="flips"):
        check_evidence_prediction("weak", heads=0, flips=0)
    with pytest.raises(ValueError, match="weak and strong"):
        check_evidence_prediction("weak", heads=7, flips=10, weak=(2, 2), strong=(2, 2))


# ------------------------------------------------------------------------------ 02.1
def _sklearn_responsibilities(x, weights, locs, scales):
    """scikit-learn's E-step (predict_proba) for a 1-D mixture with the given parameters."""
    k = len(weights)
    gm = GaussianMixture(n_components=k, covariance_type="full")
    gm.weights_ = np.asarray(weights, float)
    gm.means_ = np.asarray(locs, float)[:, None]
    gm.covariances_ = (np.asarray(scales, float) ** 2)[:, None, None]
    gm.precisions_cholesky_ = (1 / np.asarray(scales, float))[:, None, None]
    return gm.predict_proba(np.array([[x]]))[0]


POINT = {"x": 0.0, "weights": [0.3, 0.7], "locs": [-1.0, 2.0], "scales": [0.5, 2.0]}


def test_point_responsibilities_right_answer_from_scikit_learn():
    r = _sklearn_responsibilities(**POINT)
    says(check_point_responsibilities(r, **POINT), "right")
    says(check_point_responsibilities(np.round(r, 3), **POINT), "right")


def _point_mistake(kind):
    w, mu, s = (np.array(POINT[k]) for k in ("weights", "locs", "scales"))
    joint = w * stats.norm.pdf(POINT["x"], mu, s)
    r = joint / joint.sum()
    return {
        "unnormalised": joint,
        "no_weights": stats.norm.pdf(0.0, mu, s) / stats.norm.pdf(0.0, mu, s).sum(),
        "log": np.log(r),
        "reversed": r[::-1],
        "variances": (w * stats.norm.pdf(0.0, mu, s**2))
        / (w * stats.norm.pdf(0.0, mu, s**2)).sum(),
        "not_one": r * 0.8,
        "scalar": r[0],
    }[kind]


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("unnormalised", "not yet normalised"),
        ("no_weights", "weights w_k are left out"),
        ("log", "log responsibilities"),
        ("reversed", "reverse order"),
        ("variances", "variances are used as sds"),
        ("not_one", "sum to one; yours sum to (0.8"),
        ("scalar", "one number where 2 are asked for"),
    ],
)
def test_point_responsibilities_recognised_mistakes(kind, phrase):
    says(check_point_responsibilities(_point_mistake(kind), **POINT), "wrong", phrase)


# ------------------------------------------------------------------------------ 02.2
@pytest.fixture(scope="module")
def faithful_em():
    raw = load_faithful()
    x = (raw - raw.mean(0)) / raw.std(0)
    em = GaussianMixture(n_components=2, covariance_type="full", random_state=0).fit(x)
    return x, em


def _em_args(faithful_em):
    x, em = faithful_em
    return {"x": x, "weights": em.weights_, "means": em.means_, "covariances": em.covariances_}


def test_e_step_right_answer_from_scikit_learn(faithful_em):
    x, em = faithful_em
    says(check_e_step(lambda *args: em.predict_proba(x), **_em_args(faithful_em)), "right")


@pytest.mark.parametrize(
    ("mistake", "phrase"),
    [
        (lambda r, j: r.T, "the transpose"),
        (lambda r, j: j / j.sum(0), "wrong axis"),
        (lambda r, j: j, "not yet normalised"),
        (lambda r, j: np.log(r), "log responsibilities"),
        (lambda r, j: np.eye(2)[r.argmax(1)], "Hard assignments"),
        (lambda r, j: 0.9 * r, "sum to one; yours sum to (0.9, 0.9, 0.9) ..."),
        (lambda r, j: np.full_like(r, 0.5), "Not the responsibilities"),
    ],
)
def test_e_step_recognised_mistakes(faithful_em, mistake, phrase):
    x, em = faithful_em
    r = em.predict_proba(x)
    joint = r * np.exp(em.score_samples(x))[:, None]  # w_k N(x_i | mu_k, Sigma_k) = r_ik p(x_i)
    says(check_e_step(lambda *args: mistake(r, joint), **_em_args(faithful_em)), "wrong", phrase)


def test_e_step_weights_left_out(faithful_em):
    x, em = faithful_em
    args = _em_args(faithful_em)
    lik = np.column_stack(
        [
            stats.multivariate_normal(m, c).pdf(x)
            for m, c in zip(em.means_, em.covariances_, strict=True)
        ]
    )
    says(check_e_step(lambda *a: lik / lik.sum(1, keepdims=True), **args), "wrong", "weights w_k")


# ------------------------------------------------------------------------------ 02.3
@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_label_copies_right_answer_by_counting_orderings(k):
    copies = len(set(itertools.permutations(range(k))))
    says(check_label_copies(copies, n_components=k), "right")
    says(check_label_copies(float(copies), n_components=k), "right")


@pytest.mark.parametrize(
    ("answer", "k", "phrase"),
    [
        (3, 3, "3 is the number of clusters"),
        (2, 3, "Two is the case K = 2"),
        (8, 3, "subsets"),
        (9, 3, "pairs"),
        (6, 4, "swaps of two labels"),
        (2.5, 3, "whole number"),
        (7, 3, "Count the ways"),
        ("six", 3, "must be numbers"),
    ],
)
def test_label_copies_recognised_mistakes(answer, k, phrase):
    says(check_label_copies(answer, n_components=k), "wrong", phrase)


# ------------------------------------------------------------------------------ 03.1
KL_ARGS = {"q_loc": 1.0, "q_scale": 0.5, "p_loc": 0.0, "p_scale": 1.0}


def _kl_by_quadrature(m1, s1, m2, s2):
    def f(z):
        return stats.norm.pdf(z, m1, s1) * (
            stats.norm.logpdf(z, m1, s1) - stats.norm.logpdf(z, m2, s2)
        )

    return integrate.quad(f, -30, 30, epsabs=1e-12, epsrel=1e-12, limit=200)[0]


def test_gaussian_kl_right_answer_by_quadrature_and_numpyro():
    reverse, forward = _kl_by_quadrature(1.0, 0.5, 0.0, 1.0), _kl_by_quadrature(0.0, 1.0, 1.0, 0.5)
    says(check_gaussian_kl((reverse, forward), **KL_ARGS), "right")
    q, p = dist.Normal(1.0, 0.5), dist.Normal(0.0, 1.0)
    by_numpyro = (float(dist.kl_divergence(q, p)), float(dist.kl_divergence(p, q)))
    says(check_gaussian_kl(by_numpyro, **KL_ARGS), "right")


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (lambda r, f: (f, r), "directions are swapped"),
        (lambda r, f: (r, r), "KL is not symmetric"),
        (lambda r, f: (-r, -f), "KL(q || p): the sign is flipped"),
        (lambda r, f: (2 * r, f), "KL(q || p): it is twice the KL"),
        (lambda r, f: (r, f + 0.5), "KL(p || q): the constant -1/2 is missing"),
        (lambda r, f: (r - 0.5 * np.log(2), f), "log term is halved"),
        (lambda r, f: (r, f * 7), "KL(q || p) is right; KL(p || q) is not right"),
        (lambda r, f: r, "shape (2,)"),
    ],
)
def test_gaussian_kl_recognised_mistakes(wrong, phrase):
    reverse, forward = _kl_by_quadrature(1.0, 0.5, 0.0, 1.0), _kl_by_quadrature(0.0, 1.0, 1.0, 0.5)
    says(check_gaussian_kl(wrong(reverse, forward), **KL_ARGS), "wrong", phrase)


def test_gaussian_kl_sds_for_variances():
    # m1 = m2 = 0 isolates the variance term: log 2 + (0.5 / 2) - 0.5 with sds, not variances
    args = {"q_loc": 0.0, "q_scale": 0.5, "p_loc": 0.0, "p_scale": 1.0}
    forward = _kl_by_quadrature(0.0, 1.0, 0.0, 0.5)
    says(check_gaussian_kl((np.log(2) + 0.25 - 0.5, forward), **args), "wrong", "sds are used")


# ------------------------------------------------------------------------------ 03.2
def _numpyro_elbo_terms(x, m, s, z):
    """Per draw: log p(x, z) from the model itself (NumPyro's log_density), and log q(z)."""
    joint = jax.vmap(lambda mu: log_density(normal_normal, (x,), {}, {"mu": mu})[0])(z)
    return np.asarray(joint, float), np.asarray(dist.Normal(m, s).log_prob(z), float)


def _numpyro_mc_elbo(x, m, s, z):
    joint, log_q = _numpyro_elbo_terms(x, m, s, z)
    return float(np.mean(joint - log_q))


MC = {"x": X_NN, "q_loc": 0.5, "q_scale": 0.5, "num_draws": 200, "seed": 3}


def test_mc_elbo_right_answer_from_the_model_log_density():
    says(check_mc_elbo(_numpyro_mc_elbo, **MC), "right", "standard errors", "exact ELBO")


def test_mc_elbo_at_the_posterior_every_draw_gives_the_log_evidence():
    n = X_NN.size  # the exact posterior of notebook 03's model: N(sum x / (n + 1), 1 / (n + 1))
    at_posterior = {**MC, "q_loc": X_NN.sum() / (n + 1), "q_scale": (n + 1) ** -0.5}
    says(check_mc_elbo(_numpyro_mc_elbo, **at_posterior), "right", "same value, log p(x)")


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (lambda j, lq, lp, ll: -np.mean(j - lq), "negative ELBO"),
        (lambda j, lq, lp, ll: np.sum(j - lq), "factor of 200"),
        (lambda j, lq, lp, ll: np.mean(j), "log q(z) is left out"),
        (lambda j, lq, lp, ll: np.mean(j + lq), "log q(z) is added"),
        (lambda j, lq, lp, ll: np.mean(j - lp - lq), "prior log p(z) is left out"),
        (lambda j, lq, lp, ll: np.mean(ll / 20 + lp - lq), "averaged over the 20 data points"),
        (lambda j, lq, lp, ll: j - lq, "One number per draw"),
        (lambda j, lq, lp, ll: j, "Return one number"),
        (lambda j, lq, lp, ll: np.mean(j - lq) + 1, "Not the estimate"),
    ],
)
def test_mc_elbo_recognised_mistakes(wrong, phrase):
    def student(x, m, s, z):
        joint, log_q = _numpyro_elbo_terms(x, m, s, z)
        log_prior = stats.norm.logpdf(z)
        return wrong(joint, log_q, log_prior, joint - log_prior)

    says(check_mc_elbo(student, **MC), "wrong", phrase)


def test_mc_elbo_draws_come_from_the_seed_not_global_state():
    seen = []
    check_mc_elbo(lambda x, m, s, z: seen.append(z.copy()), **MC)
    check_mc_elbo(lambda x, m, s, z: seen.append(z.copy()), **MC)
    check_mc_elbo(lambda x, m, s, z: seen.append(z.copy()), **{**MC, "seed": 4})
    assert np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[0], seen[2])
    assert abs(seen[0].mean() - 0.5) < 4 * 0.5 / np.sqrt(200)  # draws of q = N(0.5, 0.5^2)


# ------------------------------------------------------------------------------ 03.3
def _target_logpdf(z, peak, scale):
    return np.logaddexp(
        stats.norm.logpdf(z, -peak, scale), stats.norm.logpdf(z, peak, scale)
    ) - np.log(2)


def _kl_to_target(m, s, peak=4.0, scale=0.6):
    def f(z):
        return stats.norm.pdf(z, m, s) * (
            stats.norm.logpdf(z, m, s) - _target_logpdf(z, peak, scale)
        )

    return integrate.quad(f, m - 12 * s, m + 12 * s, epsabs=1e-12, limit=200)[0]


def test_reverse_kl_prediction_right_answer_by_quadrature():
    # q on one peak, with its sd: the reverse fit (its optimum, found by quadrature here too)
    best = optimize.minimize(lambda v: _kl_to_target(v[0], np.exp(v[1])), x0=[3.0, 0.0]).x
    says(check_reverse_kl_prediction(_kl_to_target(best[0], np.exp(best[1]))), "right", "log 2")
    says(check_reverse_kl_prediction(np.log(2)), "right")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (-0.5, "never negative"),
        (0.0, "Zero would mean q = p"),
        ("forward", "the forward fit's KL(q || p)"),
        (3.0, "does not grow"),
        (0.3, "Not quite"),
        ("log 2", "must be numbers"),
    ],
)
def test_reverse_kl_prediction_recognised_mistakes(answer, phrase):
    if answer == "forward":  # the moment-matched Gaussian: mean 0, variance 0.6**2 + 4**2
        answer = _kl_to_target(0.0, np.sqrt(0.36 + 16.0))
    says(check_reverse_kl_prediction(answer), "wrong", phrase)


# ------------------------------------------------------------------------------ 04.1
def _sweep_by_optimising_the_elbo(x, prior, e_tau):
    """One CAVI sweep as two numerical maximisations of the closed-form ELBO."""
    a_start = 3.0  # any q(tau) with E[tau] = e_tau: q(mu)'s best depends on E[tau] alone
    b_start = a_start / e_tau

    def neg(v):
        return -normal_gamma_elbo(x, prior, v[0], np.exp(v[1]), a_start, b_start)

    m, log_lam = optimize.minimize(
        neg,
        x0=[0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000},
    ).x

    def neg_tau(v):  # the second coordinate, q(mu) held at its update
        return -normal_gamma_elbo(x, prior, m, np.exp(log_lam), *np.exp(v))

    log_a, log_b = optimize.minimize(
        neg_tau,
        x0=[1.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000},
    ).x
    return np.array([m, np.exp(log_lam), np.exp(log_a), np.exp(log_b)])


@pytest.fixture(scope="module")
def sweep():
    return _sweep_by_optimising_the_elbo(X_NG, NG_PRIOR, 4.0)


def test_cavi_update_right_answer_by_maximising_the_elbo(sweep):
    says(check_cavi_update(sweep, x=X_NG, prior=NG_PRIOR, e_tau=4.0), "right", "Gamma(11.5")


def _cavi_mistake(kind, sweep):
    m, lam, a, b = sweep
    lam0, n = NG_PRIOR.lam, X_NG.size
    post = normal_gamma_posterior(X_NG, NG_PRIOR)
    lam_no_tau = lam0 + n
    b_no_tau = 1.0 + 0.5 * (np.sum((X_NG - m) ** 2) + (n + lam0) / lam_no_tau + lam0 * m**2)
    b_no_var = 1.0 + 0.5 * (np.sum((X_NG - m) ** 2) + lam0 * m**2)
    return {
        "exact": list(post),
        "lam_no_tau": [m, lam_no_tau, a, b_no_tau],
        "lam_no_tau_b_right": [m, lam_no_tau, a, b],
        "a_exact": [m, lam, 1.0 + n / 2, b],
        "b_no_var": [m, lam, a, b_no_var],
        "b_no_prior": [m, lam, a, 1.0 + 0.5 * (np.sum((X_NG - m) ** 2) + n / lam)],
        "scale": [m, lam, a, 1 / b],
        "variance": [m, 1 / lam, a, b],
        "sd": [m, 1 / np.sqrt(lam), a, b],
        "m_off": [m + 1, lam, a, b],
    }[kind]


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("exact", "exact posterior"),
        ("lam_no_tau", "lam is missing E[tau]"),
        ("lam_no_tau_b_right", "lam is missing E[tau]"),
        ("a_exact", "adds another 1/2"),
        ("b_no_var", "variance of q(mu)"),
        ("b_no_prior", "the prior's term"),
        ("scale", "the scale 1/b"),
        ("variance", "variance 1/lam"),
        ("sd", "q(mu)'s sd"),
        ("m_off", "Of the 4 numbers, lam, a and b are right, m is not"),
    ],
)
def test_cavi_update_recognised_mistakes(sweep, kind, phrase):
    answer = _cavi_mistake(kind, sweep)
    says(check_cavi_update(answer, x=X_NG, prior=NG_PRIOR, e_tau=4.0), "wrong", phrase)


# ------------------------------------------------------------------------------ 04.2
def _numpy_m_step(x, resp):
    """The M-step with NumPy's weighted mean and weighted (biased) covariance."""
    weights = resp.mean(0)
    means = np.stack([np.average(x, axis=0, weights=r) for r in resp.T])
    covs = np.stack([np.cov(x.T, aweights=r, bias=True) for r in resp.T])
    return weights, means, covs


def test_m_step_right_answer_from_numpy(faithful_em):
    x, em = faithful_em
    says(check_m_step(_numpy_m_step, x=x, resp=em.predict_proba(x)), "right")


@pytest.mark.parametrize(
    ("mistake", "phrase"),
    [
        (lambda w, mu, c, x, r: (r.sum(0), mu, c), "Weights: these are the expected counts"),
        (lambda w, mu, c, x, r: (w, r.T @ x, c), "means: these are weighted sums"),
        (lambda w, mu, c, x, r: (w, np.stack([x.mean(0)] * 2), c), "the mean of all the points"),
        (lambda w, mu, c, x, r: (w, mu, c * r.sum(0)[:, None, None]), "not divided by N_k"),
        (
            lambda w, mu, c, x, r: (w, mu, c * (r.sum(0) / (r.sum(0) - 1))[:, None, None]),
            "divided by N_k - 1",
        ),
        (
            lambda w, mu, c, x, r: (w, mu, c + np.einsum("ki,kj->kij", mu, mu)),
            "not centred",
        ),
        (
            lambda w, mu, c, x, r: (w, mu, np.stack([np.cov(x.T, bias=True)] * 2)),
            "the same covariance of all the points",
        ),
        (lambda w, mu, c, x, r: (w, mu), "Return three things"),
        (lambda w, mu, c, x, r: (w[:1], mu, c), "shape (2,)"),
        (lambda w, mu, c, x, r: (w, mu, c + 1.0), "Weights right; means right; covariances not"),
    ],
)
def test_m_step_recognised_mistakes(faithful_em, mistake, phrase):
    x, em = faithful_em
    resp = em.predict_proba(x)

    def student(x, resp):
        return mistake(*_numpy_m_step(x, resp), x, resp)

    says(check_m_step(student, x=x, resp=resp), "wrong", phrase)


def test_m_step_centred_on_the_mean_of_all_points(faithful_em):
    x, em = faithful_em
    resp = em.predict_proba(x)
    x = x + 3.0  # standardised data have mean 0, where this mistake is "not centred"

    def student(x, resp):
        w, mu, _ = _numpy_m_step(x, resp)
        d = x - x.mean(0)
        return (
            w,
            mu,
            np.stack(
                [
                    np.cov(d.T, aweights=r, bias=True)
                    + np.outer(np.average(d, axis=0, weights=r), np.average(d, axis=0, weights=r))
                    for r in resp.T
                ]
            ),
        )

    says(check_m_step(student, x=x, resp=resp), "wrong", "centred on the mean of all the points")


# ------------------------------------------------------------------------------ 04.3
def test_cavi_start_prediction_right_answer_from_the_fixed_point_in_closed_form():
    post = normal_gamma_posterior(X_NG, NG_PRIOR)
    a = NG_PRIOR.a + (X_NG.size + 1) / 2
    b_fixed = post.b * a / (a - 0.5)  # E_q[tau] = a_N / b_N at the fixed point (notebook 04)
    for start in (50.0, 0.01):
        end = cavi_normal_gamma(X_NG, NG_PRIOR, n_iter=50, init_tau=start)
        assert abs(end["b"][-1] / b_fixed - 1) < 1e-9  # both starts reach the one fixed point
    says(check_cavi_start_prediction("same", x=X_NG, prior=NG_PRIOR), "right", "one fixed point")
    says(check_cavi_start_prediction("different", x=X_NG, prior=NG_PRIOR), "wrong", "the same q")
    says(check_cavi_start_prediction("maybe", x=X_NG, prior=NG_PRIOR), "wrong", "'same' or")


def test_cavi_start_prediction_too_few_sweeps_to_meet():
    result = check_cavi_start_prediction("different", x=X_NG, prior=NG_PRIOR, n_iter=1)
    says(result, "right", "not enough sweeps")


# ------------------------------------------------------------------------------ the edition
def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "vibook", "language": "python", "display_name": "v"}
    nb.cells = list(cells)
    return nb


def _cell(kind, source, **flags):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    if flags:
        cell.metadata["nbgrader"] = {"solution": False, "grade": False, **flags}
    return cell


def test_student_edition_follows_nbgrader_markup():
    nb = _nb(
        _cell(
            "code",
            "answer = None\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION",
            solution=True,
        ),
        _cell(
            "code",
            'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION',
            solution=True,
        ),
        _cell("code", "whole = 1", solution=True),
        _cell("markdown", "Why? BEGIN SOLUTION\nbecause\nEND SOLUTION\nok", solution=True),
        _cell(
            "code", "r = 1\n### BEGIN HIDDEN TESTS\nassert r\n### END HIDDEN TESTS\nr", grade=True
        ),
        _cell("code", "untouched = 2"),
    )
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="42")]
    student = edition.student_notebook(nb)
    assert [c.source for c in student.cells] == [
        "answer = None\n# YOUR CODE HERE",
        'def f(x):\n    """Doc."""\n    # YOUR CODE HERE',
        "# YOUR CODE HERE",
        "YOUR ANSWER HERE\nok",  # as nbgrader: the whole line with the marker goes
        "r = 1\nr",
        "untouched = 2",
    ]
    assert student.cells[0].outputs == [] and nb.cells[0].outputs  # a copy: nb is unchanged
    namespace = {}
    exec(student.cells[1].source, namespace)  # the stubbed function still runs: returns None
    assert namespace["f"](3) is None


@pytest.mark.parametrize(
    ("cell", "error"),
    [
        (_cell("code", "### BEGIN SOLUTION\n1\n### END SOLUTION"), "outside a solution cell"),
        (_cell("code", "### BEGIN SOLUTION\n### BEGIN SOLUTION", solution=True), "inside another"),
        (_cell("code", "### BEGIN SOLUTION\n1", solution=True), "without its"),
        (_cell("code", "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"), "outside a grade cell"),
    ],
)
def test_student_edition_refuses_broken_markup(cell, error):
    with pytest.raises(ValueError, match=error):
        edition.student_notebook(_nb(cell))


def _instructor(name):
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


def _flags(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_each_exercise_is_task_answer_check(name):
    cells = _instructor(name).cells
    answers = [i for i, c in enumerate(cells) if _flags(c).get("solution")]
    assert 2 <= len(answers) <= 4, f"{name} has {len(answers)} exercises"
    used = set()
    for i in answers:
        task, answer, check = cells[i - 1], cells[i], cells[i + 1]
        assert task.cell_type == "markdown" and "*Practises:" in task.source
        assert "### BEGIN SOLUTION" in answer.source and "### END SOLUTION" in answer.source
        assert _flags(check).get("grade") and _flags(check).get("locked")
        lines = check.source.splitlines()
        assert lines[0].startswith("result = check_") or lines[1].startswith("result = check_")
        assert "### BEGIN HIDDEN TESTS\nassert result.ok, result.message\n### END" in check.source
        assert lines[-1] == "result"
        used |= {n for n in exercises.__all__ if f"{n}(" in check.source}
    kinds = [cells[i - 1].source.splitlines()[0] for i in answers]
    assert any("(by hand)" in k for k in kinds) and any("(implement)" in k for k in kinds)
    assert any("(predict, then run)" in k for k in kinds)
    assert len(used) == len(answers), "one checker per exercise"


def test_every_checker_is_used_by_a_notebook():
    sources = "".join(c.source for n in EXERCISE_NOTEBOOKS for c in _instructor(n).cells)
    unused = [n for n in exercises.__all__ if n.startswith("check_") and f"{n}(" not in sources]
    assert not unused


def test_student_edition_of_every_notebook(tmp_path):
    written = edition.write_student_edition(ROOT / "notebooks", tmp_path)
    assert sorted(p.name for p in written) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )
    for path in written:
        student = nbformat.read(path, as_version=4)
        instructor = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        text = json.dumps([c.source for c in student.cells])
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "assert result.ok"):
            assert marker not in text, f"{path.name} keeps {marker!r}"
        for s, i in zip(student.cells, instructor.cells, strict=True):
            if not (_flags(i).get("solution") or _flags(i).get("grade")):
                assert s.source == i.source  # only exercise cells change
            if _flags(i).get("solution"):
                stub = i.source.split("### BEGIN SOLUTION")[0]
                assert s.source.startswith(stub) and "# YOUR CODE HERE" in s.source


def test_make_student_writes_the_edition():
    makefile = (ROOT / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:"))
    assert "student" in phony.split() and "make student" in makefile
    assert (
        "\nstudent: $(STAMP)\n\t$(PY) scripts/student_edition.py notebooks build/student/"
        in makefile
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_student_edition_runs_and_every_check_says_not_yet(name, tmp_path):
    from nbclient import NotebookClient

    source = ROOT / "notebooks" / f"{name}.ipynb"
    student = edition.student_notebook(nbformat.read(source, as_version=4), source.name)
    NotebookClient(
        student, timeout=600, kernel_name="vibook", resources={"metadata": {"path": tmp_path}}
    ).execute()  # raises on a failing cell
    checks = [c for c in student.cells if _flags(c).get("grade")]
    assert checks
    for cell in checks:
        text = " ".join(o.get("data", {}).get("text/markdown", "") for o in cell.outputs)
        assert "not yet answered" in text, (cell.id, cell.outputs)
    for cell in student.cells:
        for out in getattr(cell, "outputs", []):
            assert out.get("name") != "stderr" or "Warning" not in out.get("text", ""), out


# ------------------------------------------------------------------------------ instructors
INSTRUCTORS = ROOT / "docs" / "instructors.md"
# The page's planning estimates (its "Time" section says so): reading speeds and exercise times.
WORDS_A_MINUTE, CODE_LINES_A_MINUTE = 100, 10
EXERCISE_MINUTES = {"by hand": 10, "implement": 15, "predict, then run": 10}
SESSION_MINUTES = 50


def _exercises(name):
    """(number, title, kind) of each exercise in the notebook, from its task cells."""
    found = []
    for cell in _instructor(name).cells:
        if heading := re.match(
            r"### Exercise (\d\d\.\d) · (.+) \(([^()]+)\)$", cell.source.split("\n")[0]
        ):
            found.append(heading.groups())
    return found


def _reading_minutes(name):
    """The notebook before its exercises, at the page's reading speeds, up to 5 minutes."""
    cells = _instructor(name).cells
    end = next(i for i, c in enumerate(cells) if c.source.startswith("## Exercises"))
    words = sum(len(re.findall(r"\w+", c.source)) for c in cells[:end] if c.cell_type == "markdown")
    lines = sum(len(c.source.splitlines()) for c in cells[:end] if c.cell_type == "code")
    return 5 * math.ceil((words / WORDS_A_MINUTE + lines / CODE_LINES_A_MINUTE) / 5)


def _fit_in_class(name):
    """The exercises that fit the session after reading, taken in the order .1, .3, .2."""
    left, chosen = SESSION_MINUTES - _reading_minutes(name), []
    for number, _, kind in sorted(_exercises(name), key=lambda e: "132".index(e[0][-1])):
        if EXERCISE_MINUTES[kind] > left:
            break
        chosen.append(number)
        left -= EXERCISE_MINUTES[kind]
    return ", ".join(chosen) or "none"


def test_instructor_page_times_follow_the_notebooks():
    rows = {}
    for line in INSTRUCTORS.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and re.fullmatch(r"\d\d", cells[1]):
            rows[cells[1]] = (int(cells[3]), cells[4])
    assert sorted(rows) == [name[:2] for name in EXERCISE_NOTEBOOKS]
    for name in EXERCISE_NOTEBOOKS:
        assert rows[name[:2]] == (_reading_minutes(name), _fit_in_class(name)), name


def test_instructor_page_lists_every_exercise_under_its_notebook():
    page = INSTRUCTORS.read_text()
    sections = re.split(r"^### ", page, flags=re.M)[1:]
    assert [s[:2] for s in sections] == [name[:2] for name in EXERCISE_NOTEBOOKS]
    for name, section in zip(EXERCISE_NOTEBOOKS, sections, strict=True):
        assert f"(../notebooks/{name}.ipynb)" in section.splitlines()[0]
        assert "By the end, a student can" in section
        for number, title, kind in _exercises(name):
            assert f"**{number}** {title} ({kind})" in section, (name, number)


def test_instructor_page_is_in_the_book_and_the_readme():
    index = (ROOT / "docs" / "index.md").read_text()
    assert "\ninstructors\n" in index and "](instructors.md)" in index
    assert "(docs/instructors.md)" in (ROOT / "README.md").read_text()
