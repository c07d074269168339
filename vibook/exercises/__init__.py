"""Exercises with checked answers: one checker per exercise, for the notebooks' last section.

From notebook 01 on, each notebook ends with two to four exercises, each saying what it
practises: one computes by hand what the notebook just showed, one implements a piece the
notebook used, and one asks for a prediction before running the code that settles it. Each
exercise has a checker here, named after what it checks and taking the exercise's inputs as
keyword arguments::

    result = check_beta_posterior(answer, a=2.0, b=2.0, heads=19, tails=11)
    result  # shown in the notebook: right, not right yet and why, or not yet answered

A checker computes the right answer at check time from those inputs (never a stored
constant), compares the answer with it and with each mistake it recognises (each computed
too), and returns a :class:`~vibook.exercises.feedback.Feedback` whose ``ok`` is True only
for a right answer. It does not raise on a wrong answer, nor on the stub (``None`` or
``...``), which it reports as not yet answered.

In the notebooks each exercise is three cells, in nbgrader's markup: the task (Markdown), the
answer (a solution cell, the instructor's answer between nbgrader's solution markers), and the
check (an autograder-tests cell that calls the checker, with ``assert result.ok`` inside
nbgrader's hidden-tests markers). The notebooks in ``notebooks/`` are the instructor edition:
the tests run them and every assert must pass. ``make student`` writes the student edition,
with each solution replaced by a stub and the hidden asserts removed
(``scripts/student_edition.py``, which follows nbgrader's ``ClearSolutions`` and
``ClearHiddenTests``).

The checkers live in one module per notebook; this package re-exports them all.
"""

from vibook.exercises.active_learning import (
    check_bald,
    check_bald_pick_prediction,
    check_entropy_and_variation_ratio,
)
from vibook.exercises.bayes_theorem import (
    check_beta_posterior,
    check_evidence_prediction,
    check_grid_posterior,
)
from vibook.exercises.bnn_classification import (
    check_ece,
    check_temperature_prediction,
    check_uncertainty_split,
)
from vibook.exercises.bnn_regression import (
    check_gap_point_prediction,
    check_predictive_mean_sd,
    check_variance_split,
)
from vibook.exercises.coordinate_ascent import (
    check_cavi_start_prediction,
    check_cavi_update,
    check_m_step,
)
from vibook.exercises.feedback import Feedback
from vibook.exercises.kl_and_elbo import (
    check_gaussian_kl,
    check_mc_elbo,
    check_reverse_kl_prediction,
)
from vibook.exercises.latent_variables import (
    check_e_step,
    check_label_copies,
    check_point_responsibilities,
)
from vibook.exercises.mcmc_diagnostics import (
    check_rank_rhat,
    check_split_rhat,
    check_stuck_chain_prediction,
)
from vibook.exercises.priors import (
    check_kurtosis_prediction,
    check_prior_draws,
    check_prior_sd,
)
from vibook.exercises.scaling import (
    check_minibatch_loglik,
    check_minibatch_noise_prediction,
    check_minibatch_scale,
)
from vibook.exercises.stochastic_vi import (
    check_particles_prediction,
    check_pathwise_gradient,
    check_score_gradient,
)
from vibook.exercises.topic_models import (
    check_local_e_step,
    check_token_responsibilities,
    check_topic_share_prediction,
)
from vibook.exercises.vae import (
    check_encoder_kl,
    check_iwae_estimator,
    check_prior_proposal_prediction,
)

__all__ = [
    "Feedback",
    "check_bald",
    "check_bald_pick_prediction",
    "check_beta_posterior",
    "check_cavi_start_prediction",
    "check_cavi_update",
    "check_e_step",
    "check_ece",
    "check_encoder_kl",
    "check_entropy_and_variation_ratio",
    "check_evidence_prediction",
    "check_gap_point_prediction",
    "check_gaussian_kl",
    "check_grid_posterior",
    "check_iwae_estimator",
    "check_kurtosis_prediction",
    "check_label_copies",
    "check_local_e_step",
    "check_m_step",
    "check_mc_elbo",
    "check_minibatch_loglik",
    "check_minibatch_noise_prediction",
    "check_minibatch_scale",
    "check_particles_prediction",
    "check_pathwise_gradient",
    "check_point_responsibilities",
    "check_predictive_mean_sd",
    "check_prior_draws",
    "check_prior_proposal_prediction",
    "check_prior_sd",
    "check_rank_rhat",
    "check_reverse_kl_prediction",
    "check_score_gradient",
    "check_split_rhat",
    "check_stuck_chain_prediction",
    "check_temperature_prediction",
    "check_token_responsibilities",
    "check_topic_share_prediction",
    "check_uncertainty_split",
    "check_variance_split",
]
