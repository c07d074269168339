"""The checkers of notebook 05's exercises (vibook.exercises.stochastic_vi).

Each checker is fed the stub, odd answers of every kind, each recognised mistake, and the right
answer computed a second way: gradients by JAX's autodiff through NumPyro's log densities, and
the estimators' variances by SciPy's quadrature, never with the checker's own formulas.
"""

import jax
import numpy as np
import numpyro.distributions as dist
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, says
from numpyro.infer.util import log_density
from scipy import integrate, stats

from vibook.exercises import (
    check_particles_prediction,
    check_pathwise_gradient,
    check_score_gradient,
)
from vibook.models import normal_normal

X = np.random.default_rng(0).normal(1.0, 1.0, size=20)  # notebook 05's data
M, S, EPS = 0.5, 0.3, -1.2  # the notebook's q = N(0.5, 0.3**2) and exercise 05.1's noise


def log_joint(mu):
    """log p(x, mu) of the notebook's model, from NumPyro's log density of the model itself."""
    return log_density(normal_normal, (X,), {}, {"mu": mu})[0]


def log_lik(mu):
    return log_joint(mu) - dist.Normal(0.0, 1.0).log_prob(mu)


PATHWISE = {"x": X, "q_loc": M, "q_scale": S, "eps": EPS}
SCORE = {"x": X, "q_loc": M, "q_scale": S, "num_draws": 500, "seed": 3}
PARTICLES = {"x": X, "q_loc": M, "q_scale": S}


def test_value_checkers_report_the_stub_and_never_raise():
    for check, kwargs in (
        (check_pathwise_gradient, PATHWISE),
        (check_particles_prediction, PARTICLES),
    ):
        for stub in STUBS:
            says(check(stub, **kwargs), "not answered", "Not yet answered")
        for answer in ODD_ANSWERS:
            says(check(answer, **kwargs), "wrong")


def test_score_gradient_reports_the_stub_and_never_raises():
    for stub in STUBS:
        says(check_score_gradient(stub, **SCORE), "not answered", "Not yet answered")
        says(check_score_gradient(lambda *a, stub=stub: stub, **SCORE), "not answered")
    for func in ODD_FUNCTIONS:
        says(check_score_gradient(func, **SCORE), "wrong")
    says(check_score_gradient(lambda *args: 1 / 0, **SCORE), "wrong", "raised ZeroDivisionError")
    says(check_score_gradient(3, **SCORE), "wrong", "must be a function")


# ------------------------------------------------------------------------------ 05.1
def _autodiff_pathwise(m, s, eps):
    """(z, df/dm, df/ds, df/dlog s) by jax.grad of log p(x, m + s eps) through the model."""
    dm, ds = jax.grad(lambda m, s: log_joint(m + s * eps), argnums=(0, 1))(m, s)
    dlog_s = jax.grad(lambda log_s: log_joint(m + jax.numpy.exp(log_s) * eps))(np.log(s))
    return m + s * eps, float(dm), float(ds), float(dlog_s)


def test_pathwise_gradient_right_answer_by_autodiff():
    z, dm, ds, _ = _autodiff_pathwise(M, S, EPS)  # float32 autodiff: well within 5e-3
    says(check_pathwise_gradient((z, dm, ds), **PATHWISE), "right", "z = 0.14")
    rounded = (round(z, 3), round(dm, 2), round(ds, 2))  # three figures are enough
    says(check_pathwise_gradient(rounded, **PATHWISE), "right")
    other = {"x": X[:5], "q_loc": -1.0, "q_scale": 2.0, "eps": 0.7}
    dm5, ds5 = jax.grad(
        lambda m, s: log_density(normal_normal, (X[:5],), {}, {"mu": m + s * 0.7})[0],
        argnums=(0, 1),
    )(-1.0, 2.0)
    says(check_pathwise_gradient((-1.0 + 2.0 * 0.7, float(dm5), float(ds5)), **other), "right")


def _pathwise_mistake(kind):
    z, dm, ds, dlog_s = _autodiff_pathwise(M, S, EPS)
    if kind == "variance":
        return _autodiff_pathwise(M, S**2, EPS)[:3]  # the draw made with s**2 for s
    dq_dm, dq_ds = jax.grad(lambda m, s: dist.Normal(m, s).log_prob(z), argnums=(0, 1))(M, S)
    f_z = float(log_joint(z))
    return {
        "no_eps": (z, dm, dm),
        "no_f": (z, 1.0, EPS),
        "log_s": (z, dm, dlog_s),
        "at_mean": (z, float(jax.grad(log_joint)(M)), float(jax.grad(log_joint)(M)) * EPS),
        "sign": (z, -dm, -ds),
        "no_prior": (z, float(jax.grad(log_lik)(z)), float(jax.grad(log_lik)(z)) * EPS),
        "score": (z, f_z * float(dq_dm), f_z * float(dq_ds)),
        "one_off": (z, dm, ds + 1.0),
        "short": (z, dm),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("variance", "variance s**2 where the sd goes"),
        ("no_eps", "missing the factor dz/ds = eps"),
        ("no_f", "multiply each by f'(z)"),
        ("log_s", "gradient in log s"),
        ("at_mean", "evaluated at the mean m"),
        ("sign", "signs are flipped"),
        ("no_prior", "prior's term -z"),
        ("score", "score-function values"),
        ("one_off", "Of the 3 numbers, z and df_dm are right, df_ds is not"),
        ("short", "shape (3,)"),
    ],
)
def test_pathwise_gradient_recognised_mistakes(kind, phrase):
    says(check_pathwise_gradient(_pathwise_mistake(kind), **PATHWISE), "wrong", phrase)


# ------------------------------------------------------------------------------ 05.2
def _score_in_m(z, m, s):
    """d log q(z) / dm for each draw, by autodiff of NumPyro's Normal log density."""
    return np.asarray(
        jax.vmap(jax.grad(lambda m, z: dist.Normal(m, s).log_prob(z)), (None, 0))(m, z)
    )


def _score_in_s(z, m, s):
    return np.asarray(
        jax.vmap(jax.grad(lambda s, z: dist.Normal(m, s).log_prob(z)), (None, 0))(s, z)
    )


def test_score_gradient_right_answer_by_autodiff_of_log_q():
    def student(f, z, m, s):
        return np.mean(f(z) * _score_in_m(z, m, s))

    says(check_score_gradient(student, **SCORE), "right", "standard errors", "times smaller")


def test_score_gradient_is_unbiased_on_many_draws():
    # The right answer on 200 000 draws lands near the exact gradient f'(m) (by autodiff):
    # within 4 standard errors of the estimate, so a false failure has odds below 1e-4.
    seen = []

    def student(f, z, m, s):
        seen.append(f(z) * _score_in_m(z, m, s))
        return seen[-1].mean()

    says(check_score_gradient(student, **{**SCORE, "num_draws": 200_000}), "right")
    se = seen[0].std(ddof=1) / np.sqrt(seen[0].size)
    assert abs(seen[0].mean() - float(jax.grad(log_joint)(M))) < 4 * se


def _score_mistake(kind):
    def student(f, z, m, s):
        fz, score = f(z), _score_in_m(z, m, s)
        h = 1e-4  # central differences of f: f'(z) to about 1e-8 relative, f being quadratic
        return {
            "per_draw": fz * score,
            "sum": np.sum(fz * score),
            "sign": -np.mean(fz * score),
            "over_s": np.mean(fz * score * s),
            "no_division": np.mean(fz * score * s**2),
            "no_f": np.mean(score),
            "baseline_m": np.mean((fz - f(np.array(m))) * score),
            "baseline_mean": np.mean((fz - fz.mean()) * score),
            "in_s": np.mean(fz * _score_in_s(z, m, s)),
            "reparam": np.mean((f(z + h) - f(z - h)) / (2 * h)),
            "off": np.mean(fz * score) + 1.0,
            "scores_only": score,
        }[kind]

    return student


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("per_draw", "One number per draw"),
        ("sum", "factor of 500"),
        ("sign", "sign is flipped"),
        ("over_s", "divided by s, not by s**2"),
        ("no_division", "not divided by s**2"),
        ("no_f", "f(z) is left out"),
        ("baseline_m", "baseline f(m) is subtracted"),
        ("baseline_mean", "mean of f(z) is subtracted"),
        ("in_s", "gradient in s"),
        ("reparam", "reparameterised estimate"),
        ("off", "Not the estimate"),
        ("scores_only", "Return one number"),
    ],
)
def test_score_gradient_recognised_mistakes(kind, phrase):
    says(check_score_gradient(_score_mistake(kind), **SCORE), "wrong", phrase)


def test_score_gradient_draws_come_from_the_seed():
    seen = []
    for seed in (3, 3, 4):
        check_score_gradient(lambda f, z, m, s: seen.append(z.copy()), **{**SCORE, "seed": seed})
    assert np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[0], seen[2])
    assert abs(seen[0].mean() - M) < 4 * S / np.sqrt(500)  # draws of q = N(0.5, 0.3**2)


# ------------------------------------------------------------------------------ 05.3
def _variances_by_quadrature(m, s):
    """One-draw variances of the score-function (plain, and with the baseline f(m)) and the
    reparameterised estimators of the gradient in m, by quadrature over eps ~ N(0, 1).

    f is SciPy's log density in float64 (quad's roundoff checks need it) and f' its central
    difference, exact up to roundoff (about 1e-10 relative) since f is quadratic.
    """

    def f(mu):
        return stats.norm.logpdf(X, mu, 1.0).sum() + stats.norm.logpdf(mu)

    def f_prime(mu, h=1e-3):
        return (f(mu + h) - f(mu - h)) / (2 * h)

    def var(estimate):
        def moment(k):
            return integrate.quad(
                lambda e: estimate(e) ** k * stats.norm.pdf(e), -12, 12, epsabs=0, epsrel=1e-10
            )[0]

        return moment(2) - moment(1) ** 2

    return (
        var(lambda e: f(m + s * e) * e / s),
        var(lambda e: (f(m + s * e) - f(m)) * e / s),
        var(lambda e: f_prime(m + s * e)),
    )


@pytest.fixture(scope="module")
def variances():
    return _variances_by_quadrature(M, S)


def test_particles_prediction_right_answer_by_quadrature(variances):
    v_score, _, v_reparam = variances
    says(check_particles_prediction(v_score / v_reparam, **PARTICLES), "right", "263.7")
    says(check_particles_prediction(round(v_score / v_reparam), **PARTICLES), "right")


def test_particles_prediction_from_the_notebook_draws_is_right():
    # The notebook's ratio from 100 000 draws: its Monte Carlo error (about 1%) is far inside 20%.
    rng = np.random.default_rng(0)
    rng.normal(1.0, 1.0, size=20)  # the data, drawn first as in the notebook
    eps = rng.normal(size=100_000)
    mu = M + S * eps
    f = np.asarray(jax.vmap(log_joint)(mu), float)
    ratio = (f * (mu - M) / S**2).var() / np.asarray(jax.vmap(jax.grad(log_joint))(mu)).var()
    says(check_particles_prediction(ratio, **PARTICLES), "right")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (-3.0, "positive"),
        (0.0, "positive"),
        (1.0, "not equally steady"),
        ("sd_ratio", "ratio of the sds"),
        ("squared", "squared"),
        ("baseline", "baseline f(m)"),
        (100.0, "Too few"),
        (1000.0, "Too many"),
        ("264", "must be numbers"),
    ],
)
def test_particles_prediction_recognised_mistakes(variances, answer, phrase):
    v_score, v_baseline, v_reparam = variances
    made = {
        "sd_ratio": np.sqrt(v_score / v_reparam),
        "squared": (v_score / v_reparam) ** 2,
        "baseline": v_baseline / v_reparam,
    }
    says(check_particles_prediction(made.get(answer, answer), **PARTICLES), "wrong", phrase)


def test_bad_inputs_raise_naming_the_argument():
    with pytest.raises(ValueError, match="q_scale"):
        check_particles_prediction(1.0, x=X, q_scale=0.0)
    with pytest.raises(ValueError, match="x"):
        check_pathwise_gradient(None, x=X[:, None])
    with pytest.raises(ValueError, match="num_draws"):
        check_score_gradient(None, x=X, num_draws=1)
