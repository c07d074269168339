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

from vibook.exercises import (
    active_learning,
    bayes_theorem,
    bnn_classification,
    bnn_regression,
    coordinate_ascent,
    kl_and_elbo,
    latent_variables,
    mcmc_diagnostics,
    priors,
    scaling,
    stochastic_vi,
    topic_models,
    vae,
)
from vibook.exercises.feedback import Feedback

_MODULES = (
    bayes_theorem,
    latent_variables,
    kl_and_elbo,
    coordinate_ascent,
    stochastic_vi,
    mcmc_diagnostics,
    topic_models,
    vae,
    bnn_regression,
    bnn_classification,
    priors,
    active_learning,
    scaling,
)
globals().update({name: getattr(m, name) for m in _MODULES for name in m.__all__})
__all__ = ["Feedback", *sorted(name for m in _MODULES for name in m.__all__)]
