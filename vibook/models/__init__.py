"""Models: plain NumPyro functions, their guides, distributions and exact answers.

One module per family: observed data first (``None`` draws it from the prior predictive),
hyperparameters keyword-only, as in NumPyro's examples. Nothing here imports a runner: fitting and
working with fits live in :mod:`vibook.infer`, :mod:`vibook.mixtures`, :mod:`vibook.topics` and
:mod:`vibook.networks`.
"""

from vibook.models.bnn import LocalReparamELBO, bnn, bnn_apply, bnn_guide
from vibook.models.conjugate import (
    beta_binomial,
    beta_binomial_log_evidence,
    beta_binomial_posterior,
    coin_grid_posterior,
    logit_normal_coin,
    normal_normal,
    normal_normal_log_evidence,
    normal_normal_posterior,
)
from vibook.models.glm import logistic_loglik, logistic_regression
from vibook.models.gmm import GaussianMixture, gmm, gmm_guide
from vibook.models.hierarchical import (
    EIGHT_SCHOOLS,
    TAU_PRIORS,
    eight_schools_centred,
    eight_schools_noncentred,
    eight_schools_tau_posterior,
    hierarchical_normal,
    hierarchical_normal_posterior,
)
from vibook.models.lda import LogGamma, lda, lda_guide

__all__ = [
    "LocalReparamELBO",
    "bnn",
    "bnn_apply",
    "bnn_guide",
    "beta_binomial",
    "beta_binomial_log_evidence",
    "beta_binomial_posterior",
    "coin_grid_posterior",
    "GaussianMixture",
    "gmm",
    "gmm_guide",
    "lda",
    "LogGamma",
    "lda_guide",
    "logistic_loglik",
    "logistic_regression",
    "logit_normal_coin",
    "normal_normal",
    "normal_normal_log_evidence",
    "normal_normal_posterior",
    "EIGHT_SCHOOLS",
    "eight_schools_centred",
    "eight_schools_noncentred",
    "eight_schools_tau_posterior",
    "TAU_PRIORS",
    "hierarchical_normal",
    "hierarchical_normal_posterior",
]
