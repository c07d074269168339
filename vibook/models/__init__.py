"""Models: plain NumPyro functions, one module per family.

Observed data is the first argument (``None`` draws it from the prior predictive) and
hyperparameters are keyword-only, as in NumPyro's own examples.
"""

from vibook.models.bnn import (
    BNNFit,
    bnn,
    bnn_apply,
    bnn_guide,
    fit_bnn,
    predict_proba,
    predict_regression,
)
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
from vibook.models.glm import logistic_heldout_loglik, logistic_loglik, logistic_regression
from vibook.models.gmm import (
    GaussianMixture,
    gmm,
    gmm_covariances,
    gmm_guide,
    gmm_init_values,
    gmm_log_predictive,
    gmm_point_estimate,
    gmm_responsibilities,
    relabel_draws,
)
from vibook.models.hierarchical import (
    EIGHT_SCHOOLS,
    eight_schools_centred,
    eight_schools_noncentred,
    hierarchical_normal,
    hierarchical_normal_posterior,
)
from vibook.models.lda import (
    doc_topic_proportions,
    fit_lda,
    infer_doc_topics,
    lda,
    lda_guide,
    perplexity,
    top_words,
    topic_recovery,
    topic_word_distributions,
)

__all__ = [
    "BNNFit",
    "bnn",
    "bnn_apply",
    "bnn_guide",
    "fit_bnn",
    "predict_proba",
    "predict_regression",
    "beta_binomial",
    "beta_binomial_log_evidence",
    "beta_binomial_posterior",
    "coin_grid_posterior",
    "GaussianMixture",
    "gmm",
    "gmm_covariances",
    "gmm_guide",
    "gmm_init_values",
    "gmm_log_predictive",
    "gmm_point_estimate",
    "gmm_responsibilities",
    "relabel_draws",
    "doc_topic_proportions",
    "fit_lda",
    "infer_doc_topics",
    "lda",
    "lda_guide",
    "perplexity",
    "top_words",
    "topic_recovery",
    "topic_word_distributions",
    "logistic_heldout_loglik",
    "logistic_loglik",
    "logistic_regression",
    "logit_normal_coin",
    "normal_normal",
    "normal_normal_log_evidence",
    "normal_normal_posterior",
    "EIGHT_SCHOOLS",
    "eight_schools_centred",
    "eight_schools_noncentred",
    "hierarchical_normal",
    "hierarchical_normal_posterior",
]
