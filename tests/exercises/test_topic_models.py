"""The checkers of notebook 07's exercises (vibook.exercises.topic_models).

Each checker is fed the stub, answers of every odd kind, each mistake it recognises (each must
get its own message) and the right answer computed a second way: E[log theta_k] by quadrature
over the Dirichlet's Beta marginal (07.1), vibook's own E-step ``doc_concentrations`` (07.2),
and a float64 NumPy E-step written per document (07.3).
"""

import jax.numpy as jnp
import numpy as np
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, not_yet, says
from scipy import integrate, stats
from scipy.special import digamma

from vibook.corpora import make_lda_corpus
from vibook.exercises import (
    check_local_e_step,
    check_token_responsibilities,
    check_topic_share_prediction,
)
from vibook.models.lda import doc_concentrations

# ------------------------------------------------------------------------------ 07.1
GAMMA = np.array([6.0, 2.5, 0.5])
BETA_W = np.array([0.002, 0.010, 0.030])


def _e_log_theta_by_quadrature(gamma):
    """E[log theta_k] under Dir(gamma), from theta_k's Beta marginal, integrated numerically."""
    total = gamma.sum()
    return np.array(
        [
            integrate.quad(
                lambda t, a=a: np.log(t) * stats.beta.pdf(t, a, total - a),
                0,
                1,
                epsabs=1e-13,
                epsrel=1e-12,
                limit=200,
            )[0]
            for a in gamma
        ]
    )


@pytest.fixture(scope="module")
def token_phi():
    weights = np.exp(_e_log_theta_by_quadrature(GAMMA)) * BETA_W
    return weights / weights.sum()


def test_token_responsibilities_stub_and_odd_answers():
    for stub in STUBS:
        not_yet(check_token_responsibilities(stub))
    for answer in ODD_ANSWERS:
        says(check_token_responsibilities(answer), "wrong")


def test_token_responsibilities_right_answer_by_quadrature(token_phi):
    says(check_token_responsibilities(token_phi), "right", "phi = (0.3109, 0.5702, 0.1189)")
    # three figures are enough: BY_HAND is a relative 5e-3
    assert check_token_responsibilities(np.round(token_phi, 3)).ok
    other = {"gamma": [1.0, 30.0], "topic_probs": [0.2, 0.001]}
    w = np.exp(_e_log_theta_by_quadrature(np.array(other["gamma"]))) * np.array([0.2, 0.001])
    says(check_token_responsibilities(w / w.sum(), **other), "right")


def _token_mistake(kind, phi):
    e_log = digamma(GAMMA) - digamma(GAMMA.sum())
    weights = np.exp(e_log) * BETA_W
    return {
        "mean": GAMMA * BETA_W / (GAMMA * BETA_W).sum(),
        "unnormalised": weights,
        "unnormalised_psi": np.exp(digamma(GAMMA)) * BETA_W,
        "no_beta": np.exp(e_log) / np.exp(e_log).sum(),
        "no_doc": BETA_W / BETA_W.sum(),
        "no_exp": (e_log + np.log(BETA_W)) / (e_log + np.log(BETA_W)).sum(),
        "log": np.log(phi),
        "reversed": phi[::-1],
        "not_one": 0.8 * phi,
        "two": phi[:2],
        "other": np.array([0.5, 0.3, 0.2]),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("mean", "The mean gamma_k / sum(gamma)"),
        ("unnormalised", "exp(E[log theta_k]) beta_kw, not yet normalised"),
        ("unnormalised_psi", "exp(psi(gamma_k)) beta_kw, not yet normalised"),
        ("no_beta", "beta_kw are left out"),
        ("no_doc", "E[log theta_k] is left out"),
        ("no_exp", "exponentiate them first"),
        ("log", "log responsibilities"),
        ("reversed", "reverse order"),
        ("not_one", "yours sum to 0.8"),
        ("two", "shape (3,)"),
        ("other", "Not the responsibilities"),
    ],
)
def test_token_responsibilities_recognised_mistakes(token_phi, kind, phrase):
    says(check_token_responsibilities(_token_mistake(kind, token_phi)), "wrong", phrase)


def test_token_responsibilities_inputs_are_checked():
    with pytest.raises(ValueError, match="gamma"):
        check_token_responsibilities(None, gamma=[1.0, 0.0], topic_probs=[0.1, 0.2])
    with pytest.raises(ValueError, match="topic_probs"):
        check_token_responsibilities(None, gamma=[1.0, 2.0], topic_probs=[0.0, 0.0])
    with pytest.raises(ValueError, match="topic_probs"):
        check_token_responsibilities(None, gamma=[1.0, 2.0], topic_probs=[0.1])


# ------------------------------------------------------------------------------ 07.2
SYNTH = make_lda_corpus(2000, n_topics=5, n_vocab=300, doc_length=80, seed=1)  # notebook 07's
DOC = {"counts": SYNTH.counts[0], "word_ids": SYNTH.word_ids[0], "topics": SYNTH.topics}
ALPHA = 0.2


def _vibook_gamma(tokens, topics, alpha):
    """vibook's E-step (float32, as in the notebook), run long enough to be at its fixed point."""
    ids, counts = np.unique(tokens, return_counts=True)
    gamma = doc_concentrations(
        jnp.asarray(counts[None]),
        jnp.asarray(ids[None]),
        jnp.log(jnp.asarray(topics, jnp.float32)),
        alpha,
        2000,
    )
    return np.asarray(gamma, np.float64)[0]


def _phi_of(gamma, topics, tokens):
    weights = np.exp(digamma(gamma))[:, None] * topics[:, tokens]
    return weights / weights.sum(0)


def _right(tokens, topics, alpha):
    gamma = _vibook_gamma(tokens, topics, alpha)
    return gamma, _phi_of(gamma, topics, tokens)


def _sweeps(tokens, topics, alpha, n, *, point=False, prior=True, distinct=False):
    """Updates 1-2 over the tokens, n sweeps, with the switches that make the mistakes."""
    if distinct:
        tokens = np.unique(tokens)
    beta = topics[:, tokens]
    gamma = alpha + np.full(len(topics), len(tokens) / len(topics))
    for _ in range(n):
        phi = (gamma if point else np.exp(digamma(gamma)))[:, None] * beta
        phi = phi / phi.sum(0)
        gamma = (alpha if prior else 0.0) + phi.sum(1)
    return gamma


def test_local_e_step_stub_and_odd_functions():
    for stub in STUBS:
        not_yet(check_local_e_step(stub, **DOC, alpha=ALPHA))
        not_yet(check_local_e_step(lambda *a, stub=stub: stub, **DOC, alpha=ALPHA))
    for func in ODD_FUNCTIONS:
        says(check_local_e_step(func, **DOC, alpha=ALPHA), "wrong")
    says(check_local_e_step(lambda *a: 1 / 0, **DOC, alpha=ALPHA), "wrong", "ZeroDivisionError")
    says(check_local_e_step(3, **DOC, alpha=ALPHA), "wrong", "must be a function")


def test_local_e_step_right_answer_from_vibook():
    # float32 reaches the fixed point to ~1e-7 relative, inside FIXED_POINT (1e-4)
    says(check_local_e_step(_right, **DOC, alpha=ALPHA), "right", "80 tokens are only 18")
    says(check_local_e_step(_right, **{**DOC, "counts": SYNTH.counts[7]}), "right")  # alpha 1/K


def _with_gamma(make_gamma):
    def student(tokens, topics, alpha):
        gamma, phi = _right(tokens, topics, alpha)
        return make_gamma(tokens, topics, alpha, gamma), phi

    return student


def _with_phi(make_phi):
    def student(tokens, topics, alpha):
        gamma, phi = _right(tokens, topics, alpha)
        return gamma, make_phi(tokens, topics, gamma, phi)

    return student


def _unnormalised(tokens, topics, gamma, phi):
    return np.exp(digamma(gamma))[:, None] * topics[:, tokens]


def _converged(n=10_000, **switches):
    return lambda t, b, a, g: _sweeps(t, b, a, n, **switches)


@pytest.mark.parametrize(
    ("student", "phrase"),
    [
        (_with_gamma(lambda t, b, a, g: g / g.sum()), "gamma: this is E_q[theta]"),
        (_with_gamma(_converged(prior=False)), "alpha is left out of update 2"),
        (_with_gamma(_converged(point=True)), "take the digamma"),
        (_with_gamma(_converged(distinct=True)), "each distinct word is counted once"),
        (_with_gamma(lambda t, b, a, g: np.full(len(b), a + 1)), "normalised over the tokens"),
        (_with_gamma(_converged(1)), "one sweep of updates 1 and 2"),
        (_with_gamma(_converged(7)), "close, but not yet at the fixed point"),  # 1e-2 off
        (_with_gamma(lambda t, b, a, g: g + 1.0), "gamma not right; phi right"),
        (_with_phi(_unnormalised), "phi: not yet normalised"),
        (_with_phi(lambda t, b, g, p: np.log(p)), "phi: these are log responsibilities"),
        (
            _with_phi(
                lambda t, b, g, p: (
                    _unnormalised(t, b, g, p) / _unnormalised(t, b, g, p).sum(1)[:, None]
                )
            ),
            "phi: normalised over the tokens",
        ),
        (_with_phi(lambda t, b, g, p: p.T), "the transpose"),
        (
            _with_phi(lambda t, b, g, p: _phi_of(g, b, np.unique(t))),
            "one column per distinct word (18); give one per token (80)",
        ),
        (lambda t, b, a: _right(t, b, a)[0], "Return two things"),
    ],
)
def test_local_e_step_recognised_mistakes(student, phrase):
    says(check_local_e_step(student, **DOC, alpha=ALPHA), "wrong", phrase)


def test_local_e_step_inputs_are_checked():
    with pytest.raises(ValueError, match="counts"):
        check_local_e_step(None, **{**DOC, "counts": np.zeros_like(DOC["counts"])})
    with pytest.raises(ValueError, match="word_ids"):
        check_local_e_step(None, **{**DOC, "word_ids": DOC["word_ids"] + 300})
    with pytest.raises(ValueError, match="topics"):
        check_local_e_step(None, **{**DOC, "topics": 2 * SYNTH.topics})


# ------------------------------------------------------------------------------ 07.3
CORPUS = make_lda_corpus(120, n_topics=10, n_vocab=200, doc_length=50, seed=0)
SHARE = {"topics": CORPUS.topics, "counts": CORPUS.counts, "word_ids": CORPUS.word_ids}


def _median_share_by_numpy(alpha, sweeps=50):
    """Each document's E-step in float64, one at a time: the median two-topic share."""
    shares = []
    for c, w in zip(CORPUS.counts, CORPUS.word_ids, strict=True):
        beta = CORPUS.topics[:, w[c > 0]]
        gamma = alpha + np.full(10, c.sum() / 10)
        for _ in range(sweeps):
            phi = np.exp(digamma(gamma))[:, None] * beta
            gamma = alpha + (phi / phi.sum(0)) @ c[c > 0]
        shares.append(np.sort(gamma / gamma.sum())[-2:].sum())
    return float(np.median(shares))


@pytest.fixture(scope="module")
def shares():
    return {a: _median_share_by_numpy(a) for a in (0.01, 0.1, 1.0, 3.0)}


def test_topic_share_prediction_stub_and_odd_answers():
    for stub in STUBS:
        not_yet(check_topic_share_prediction(stub, **SHARE))
    for answer in ODD_ANSWERS:
        says(check_topic_share_prediction(answer, **SHARE), "wrong")


def test_topic_share_prediction_right_answer_by_numpy(shares):
    share = shares[1.0]
    for answer in (share, share - 0.09, share + 0.09):  # 0.01 inside the tolerance 0.1
        says(check_topic_share_prediction(answer, **SHARE, alpha=1.0), "right", "pseudo-tokens")
    says(check_topic_share_prediction(share - 0.11, **SHARE, alpha=1.0), "wrong", "Not quite")
    says(check_topic_share_prediction(shares[0.01], **SHARE, alpha=0.01), "right")


def test_topic_share_prediction_recognised_mistakes(shares):
    prior = np.median(
        np.sort(np.random.default_rng(1).dirichlet(np.ones(10), 20_000), 1)[:, -2:].sum(1)
    )  # Monte Carlo with another seed: its median's standard error is about 0.002
    assert shares[1.0] - prior > 0.15 and shares[3.0] < shares[0.1] - 0.15  # apart enough
    cases = [
        (1.5, 1.0, "between 0 and 1"),
        (0.15, 1.0, "at least 2/K = 0.20"),
        (min(shares[0.1] + 0.05, 1.0), 1.0, "A larger alpha spreads"),
        (shares[0.1], 3.0, "as if alpha did not matter"),
        (0.2, 1.0, "That is 2/K"),
        (prior, 1.0, "the prior's own median share"),
        (shares[0.1] - 0.2, 0.01, "A smaller alpha concentrates"),
        ("0.8", 1.0, "must be numbers"),
    ]
    for answer, alpha, phrase in cases:
        says(check_topic_share_prediction(answer, **SHARE, alpha=alpha), "wrong", phrase)


def test_topic_share_prediction_inputs_are_checked():
    with pytest.raises(ValueError, match="at least 2 topics"):
        check_topic_share_prediction(None, **{**SHARE, "topics": np.ones((1, 200)) / 200})
    with pytest.raises(ValueError, match="word_ids"):
        check_topic_share_prediction(None, **{**SHARE, "word_ids": CORPUS.word_ids[:-1]})
