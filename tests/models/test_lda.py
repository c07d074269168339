"""The LDA model: prior predictive documents, LogGamma and the sparse multinomial."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.infer import Predictive

from vibook.models.lda import LogGamma, _SparseMultinomial, lda


def test_prior_predictive_draws_whole_documents(key):
    lengths = np.array([5, 12, 30])
    draws = Predictive(lda, num_samples=7)(key, doc_lengths=lengths, n_topics=3, n_vocab=20)
    assert draws["counts"].shape == (7, 3, 20)
    np.testing.assert_array_equal(draws["counts"].sum(-1), np.broadcast_to(lengths, (7, 3)))


def test_log_gamma_is_the_log_of_a_gamma(key):
    a = jnp.array([0.05, 0.5, 3.0])
    y = jnp.array([-20.0, -1.0, 1.2])
    expected = dist.Gamma(a).log_prob(jnp.exp(y)) + y  # change of variables x = e^y
    np.testing.assert_allclose(LogGamma(a).log_prob(y), expected, rtol=1e-4)
    # softmax of LogGamma draws is Dirichlet: the mean is a / sum(a). 20 000 draws: the
    # standard error of each mean is below 0.003.
    draws = LogGamma(a).sample(key, (20000,))
    assert np.all(np.isfinite(draws))
    np.testing.assert_allclose(jax.nn.softmax(draws, -1).mean(0), a / a.sum(), atol=0.01)


def test_sparse_multinomial_matches_the_dense_one():
    probs = jnp.array([0.1, 0.2, 0.3, 0.4])
    dense = jnp.array([2, 0, 1, 3])
    slots = jnp.array([0, 2, 3, 0])  # the document's words, one padding slot
    counts = jnp.array([2, 1, 3, 0])
    sparse = _SparseMultinomial(jnp.log(probs[slots]))
    np.testing.assert_allclose(
        sparse.log_prob(counts), dist.Multinomial(6, probs).log_prob(dense), rtol=1e-5
    )
