"""The checkers of notebook 11's exercises (vibook.exercises.priors).

Each checker is fed the stub, odd answers of every kind, each recognised mistake, and the right
answer computed a second way, never with the checker's own formulas: the prior sd by SciPy's
quadrature of E[relu(u)**2] and by a Monte Carlo of ``prior_function_draws``, the notebook's own
function; the draws by ``prior_function_draws`` (its second moments meet the checker's kernel
within 5 standard errors); the prediction by Monte Carlo kurtoses (SciPy's ``kurtosis``) of
prior draws.
"""

import re

import jax
import numpy as np
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, says
from scipy import stats

from vibook.exercises import (
    check_kurtosis_prediction,
    check_prior_draws,
    check_prior_sd,
)
from vibook.models.bnn import prior_function_draws


def _relu_draws(seed, x, num_draws, width, s):
    """f at the inputs x (n,) for num_draws prior draws: the notebook's prior_function_draws."""
    return np.asarray(
        prior_function_draws(
            jax.random.key(seed),
            np.asarray(x, np.float32)[:, None],
            num_draws=num_draws,
            hidden=(width,),
            activation="relu",
            prior_scale=s,
        ),
        dtype=np.float64,
    )


# ------------------------------------------------------------------------------ 11.1
SD_ARGS = {"x": np.array([0.0, 2.0]), "prior_scale": 3.0, "width": 50}  # the exercise's


def _sd_by_quadrature(x, s):
    """sd f(x): Var(c) + Var(sum_j v_j relu(u_j)), E[relu(u)**2] by SciPy's quadrature."""
    out = []
    for xi in x:
        u = stats.norm(0.0, s * np.sqrt(1 + xi**2))  # u = w x + b
        second = u.expect(lambda t: np.maximum(t, 0.0) ** 2, epsabs=1e-13, epsrel=1e-12)
        out.append(np.sqrt(s**2 + s**2 * second))  # E[v_j**2] = s**2 / H, H terms
    return np.array(out)


def test_prior_sd_reports_the_stub_and_never_raises():
    for stub in STUBS:
        says(check_prior_sd(stub, **SD_ARGS), "not answered", "Not yet answered")
    for answer in ODD_ANSWERS:
        says(check_prior_sd(answer, **SD_ARGS), "wrong")


def test_prior_sd_right_answer_by_quadrature_and_monte_carlo():
    sd = _sd_by_quadrature(SD_ARGS["x"], SD_ARGS["prior_scale"])
    says(check_prior_sd(sd, **SD_ARGS), "right", "same at every width")
    says(check_prior_sd(np.round(sd, 2), **SD_ARGS), "right")  # three figures are enough
    f = _relu_draws(0, SD_ARGS["x"], 100_000, 50, 3.0)
    se = (f**2).std(0) / np.sqrt(f.shape[0])  # standard error of the mean square
    assert np.all(np.abs((f**2).mean(0) - sd**2) < 4 * se)  # 4 standard errors
    # The Neal section's table: sd f(1) = sqrt(2) at s = 1, at every width.
    says(check_prior_sd([np.sqrt(2)], x=[1.0], prior_scale=1.0, width=7), "right")


def _sd_mistake(kind):
    x, s, h = SD_ARGS["x"], SD_ARGS["prior_scale"], SD_ARGS["width"]
    var_u = s**2 * (1 + x**2)
    half = 0.5 * var_u  # E[relu(u)**2]
    relu_var = var_u * (0.5 - 1 / (2 * np.pi))  # Var(relu(u)): the half-Normal's variance
    return {
        "variance": s**2 + s**2 * half,
        "no_c": np.sqrt(s**2 * half),
        "no_b": np.sqrt(s**2 + s**2 * 0.5 * s**2 * x**2),
        "no_half": np.sqrt(s**2 + s**2 * var_u),
        "relu_variance": np.sqrt(s**2 + s**2 * relu_var),
        "no_width": np.sqrt(s**2 + h * s**2 * half),
        "s_as_variance": np.sqrt(s + s * 0.5 * (1 + x**2)),
        "one_right": np.array([_sd_by_quadrature(x, s)[0], 1.0]),
        "one_number": 7.0,
    }[kind]


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("variance", "These are variances"),
        ("no_c", "output bias c is left out"),
        ("no_b", "leaves out the input bias"),
        ("no_half", "it is Var(u) / 2"),
        ("relu_variance", "the second moment, not the variance"),
        ("no_width", "not divided by the width"),
        ("s_as_variance", "it is their sd"),
        ("one_right", "sd f(0) is right, sd f(2) is not"),
        ("one_number", "one number where 2 are asked for"),
    ],
)
def test_prior_sd_recognised_mistakes(kind, phrase):
    says(check_prior_sd(_sd_mistake(kind), **SD_ARGS), "wrong", phrase)


# ------------------------------------------------------------------------------ 11.2
def _vibook(rng, x, n, width, s):
    return _relu_draws(int(rng.integers(2**31)), x, n, width, s)


def test_prior_draws_reports_the_stub_and_never_raises():
    for stub in STUBS:
        says(check_prior_draws(stub), "not answered", "Not yet answered")
        says(check_prior_draws(lambda *a, stub=stub: stub), "not answered", "Not yet answered")
    for func in ODD_FUNCTIONS:
        says(check_prior_draws(func), "wrong")
    says(check_prior_draws(lambda *args: 1 / 0), "wrong", "raised ZeroDivisionError")
    says(check_prior_draws(3), "wrong", "must be a function")


def test_prior_draws_right_answer_from_the_notebooks_function():
    says(check_prior_draws(_vibook), "right", "correlated")


def test_prior_draws_right_answer_on_other_seeds_and_inputs():
    # At 5 standard errors on each of the 15 second moments a right answer fails with
    # probability well under 1e-4 per seed: five seeds on another grid, width and scale pass.
    other = {"x": np.linspace(-1, 4, 5), "width": 7, "prior_scale": 0.7, "num_draws": 2000}
    for seed in range(1, 6):
        says(check_prior_draws(_vibook, seed=seed, **other), "right")


def _student(kind):
    """A NumPy implementation with one mistake in it."""

    def draw(rng, x, n, width, s):
        w_sd, b_sd, v_sd, c_sd = s, s, s / np.sqrt(width), s
        act = {"tanh": np.tanh, "linear": lambda u: u}.get(kind, lambda u: np.maximum(u, 0))
        if kind == "v_sd_s":
            v_sd = s
        if kind == "v_sd_over_width":
            v_sd = s / width
        if kind == "s_squared":
            w_sd, b_sd, v_sd, c_sd = s**2, s**2, s**2 / np.sqrt(width), s**2
        m = len(x) if kind == "each_x" else 1  # "each_x": new weights at every input
        w = rng.normal(0.0, w_sd, (n, width, m))
        b = rng.normal(0.0, b_sd, (n, width, m)) * (kind != "no_b")
        v = rng.normal(0.0, v_sd, (n, width, m))
        c = rng.normal(0.0, c_sd, (n, m)) * (kind != "no_c")
        if kind == "uniform":
            w, b, v = (rng.uniform(0, 1, (n, width, 1)) for _ in range(3))
        if kind == "one_network":
            w, b, v, c = w[:1], b[:1], v[:1], c[:1]
        f = c + np.sum(v * act(w * x + b), axis=1)
        f = np.broadcast_to(f, (n, len(x)))
        return {"transpose": f.T, "too_big": 1.5 * f}.get(kind, f)

    return draw


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("each_x", "uncorrelated"),
        ("v_sd_s", "The output weights' sd is s:"),
        ("v_sd_over_width", "sd is s / width"),
        ("no_b", "bias b is left out"),
        ("no_c", "output bias c is left out"),
        ("s_squared", "s**2 is used as the sd"),
        ("linear", "There is no activation"),
        ("tanh", "These are tanh units"),
        ("uniform", "do not average 0"),
        ("one_network", "Every draw is the same function"),
        ("transpose", "the transpose"),
        ("too_big", "Not the prior's draws: at x ="),
    ],
)
def test_prior_draws_recognised_mistakes(kind, phrase):
    says(check_prior_draws(_student(kind)), "wrong", phrase)


def test_prior_draws_tanh_units_from_the_notebooks_function():
    def tanh(rng, x, n, width, s):
        key = jax.random.key(int(rng.integers(2**31)))
        f = prior_function_draws(
            key,
            np.asarray(x, np.float32)[:, None],
            num_draws=n,
            hidden=(width,),
            activation="tanh",
            prior_scale=s,
        )
        return np.asarray(f)

    says(check_prior_draws(tanh), "wrong", "tanh units")


# ------------------------------------------------------------------------------ 11.3
def _mc_kurtoses(s, width=10, x=1.0, seeds=4, num_draws=50_000):
    """Excess kurtosis of f(x), one per seed, from prior draws (SciPy's kurtosis)."""
    return np.array(
        [stats.kurtosis(_relu_draws(seed, [x], num_draws, width, s)[:, 0]) for seed in range(seeds)]
    )


def test_kurtosis_prediction_reports_the_stub_and_never_raises():
    for stub in STUBS:
        says(check_kurtosis_prediction(stub), "not answered", "Not yet answered")
    for answer in ODD_ANSWERS:
        says(check_kurtosis_prediction(answer), "wrong")


def test_kurtosis_prediction_right_answer_by_monte_carlo():
    k1, k3 = _mc_kurtoses(1.0), _mc_kurtoses(3.0)
    se1, se3 = (k.std(ddof=1) / np.sqrt(k.size) for k in (k1, k3))  # between-seed SE
    assert k3.mean() - k1.mean() > 4 * np.hypot(se1, se3)  # larger, by 4 standard errors
    says(check_kurtosis_prediction(" Larger "), "right", "15 / width = 1.5")
    says(check_kurtosis_prediction("smaller", prior_scale=3.0, new_scale=1.0), "right")
    says(check_kurtosis_prediction("same", prior_scale=2.0, new_scale=2.0), "right")
    # The kurtoses the checker states agree with the Monte Carlo ones within 4 between-seed
    # standard errors.
    stated = re.search(
        r"goes from ([0-9.]+) to ([0-9]+[.][0-9]+)", check_kurtosis_prediction("x").message
    )
    assert stated is None  # an unknown word is told the choices, not the numbers
    stated = re.search(
        r"goes from ([0-9.]+) to ([0-9]+[.][0-9]+)", check_kurtosis_prediction("larger").message
    )
    assert abs(float(stated[1]) - k1.mean()) < 4 * se1
    assert abs(float(stated[2]) - k3.mean()) < 4 * se3


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        ("same", ("It is larger", "keeps its shape, but f is not that sum alone")),
        ("smaller", ("It is larger", "the central limit theorem counts terms")),
        (1.2, ("answer the comparison in words",)),
        (0.0, ("Answer 'larger', 'smaller' or 'same' (a string)",)),
        ("more Gaussian", ("Answer 'larger', 'smaller' or 'same'",)),
    ],
)
def test_kurtosis_prediction_recognised_mistakes(answer, phrases):
    says(check_kurtosis_prediction(answer), "wrong", *phrases)


def test_kurtosis_prediction_the_opposite_direction():
    result = check_kurtosis_prediction("larger", prior_scale=3.0, new_scale=1.0)
    says(result, "wrong", "It is smaller", "gains share")
    result = check_kurtosis_prediction("larger", prior_scale=2.0, new_scale=2.0)
    says(result, "wrong", "It is the same", "the same share")
