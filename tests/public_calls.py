"""A valid call of every public function, and how each argument may be malformed.

Used by ``test_bad_input.py`` (throws malformed arguments at each function) and
``test_reproducibility.py`` (calls each function that takes a random key twice). The public
functions are discovered from ``__all__`` of ``vibook``, ``vibook.models`` and every public
module, so a function added later shows up in those tests as "no valid call in the table".

Each argument has a *kind* that says which malformations apply: ``data`` (a float array),
``counts`` (integers >= 0), ``labels`` (integers in ``0..n_classes-1``), ``probs`` (values
in [0, 1]), ``positive`` (an array > 0), ``scale`` (a float > 0), ``real``, ``prob`` (a float
in [0, 1]), ``count`` (an int >= 1), ``count0`` (an int >= 0), ``optcount`` (an int >= 1 or
None), ``choice`` (one of some strings), ``bool``, ``key``, ``callable``, ``fit``, ``draws``,
``weights``, ``words``, ``hidden``, ``path``, ``state``; ``fixed`` is never changed.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
import xarray as xr

import vibook

# --------------------------------------------------------------------------- data and fits
RNG = np.random.default_rng(0)
X1 = RNG.normal(size=12)  # 1-D data
X2 = RNG.normal(size=(12, 2))  # 2-D data
Y01 = (X2[:, 0] + 0.3 * RNG.normal(size=12) > 0).astype(np.int64)  # binary labels
Y3 = np.arange(12) % 3  # three classes
PROBS = np.full((12, 3), 0.2) + 0.4 * np.eye(3)[Y3]  # rows sum to 1
PROBS_DRAWS = np.stack([PROBS, np.roll(PROBS, 1, axis=1)])  # (2, 12, 3)
GMM_INIT = {"weights": np.array([0.4, 0.6]), "locs": np.array([[-1.0, 0.0], [1.0, 0.0]])}
GMM_INIT["scales"] = np.ones((2, 2))
SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


class Lazy:
    """A valid value that is expensive to make (a fit): made once, on first use."""

    def __init__(self, make):
        self.make = functools.cache(make)

    def get(self):
        return self.make()


class Fresh:
    """A valid value made anew for every call (a path that must not exist yet)."""

    def __init__(self, make):
        self.make = make

    def get(self):
        return self.make()


def _key(i=0):
    return jax.random.key(i)


@Lazy
def SVI_FIT():
    from vibook.models import normal_normal

    return vibook.run_svi(_key(), normal_normal, X1, num_steps=20, num_samples=20)


# Posteriors made by hand where a function accepts draws: no compilation, the same checks.
@Lazy
def NUTS_TREE():
    import arviz_base as azb

    rng = np.random.default_rng(2)
    return azb.from_dict(
        {
            "posterior": {"theta": rng.beta(8, 4, size=(2, 10))},
            "sample_stats": {"diverging": np.zeros((2, 10), bool)},
        }
    )


@Lazy
def GLM_FIT():
    import arviz_base as azb

    rng = np.random.default_rng(3)
    return azb.from_dict(
        {"posterior": {"w": rng.normal(size=(1, 20, 2)), "b": rng.normal(size=(1, 20))}}
    )


@Lazy
def GMM_DRAWS():
    rng = np.random.default_rng(4)
    w = rng.dirichlet([5.0, 5.0], size=4)
    return {
        "weights": w,
        "locs": np.array([[-1.0, 0.0], [1.0, 0.0]]) + 0.1 * rng.normal(size=(4, 2, 2)),
        "scales": rng.uniform(0.5, 1.5, size=(4, 2, 2)),
        "corr_chol": np.broadcast_to(np.eye(2), (4, 2, 2, 2)).copy(),
    }


@Lazy
def BNN_CLS():
    from vibook.models.bnn import fit_bnn

    return fit_bnn(_key(), X2, Y3, n_classes=3, hidden=(4,), num_steps=20)


@Lazy
def BNN_REG():
    from vibook.models.bnn import fit_bnn

    return fit_bnn(_key(), X2, X1, hidden=(4,), num_steps=20)


@Lazy
def BNN_WEIGHTS():
    from vibook.models.bnn import bnn_layer_shapes

    rng = np.random.default_rng(1)
    out = {}
    for i, (fan_in, fan_out) in enumerate(bnn_layer_shapes(2, (4,), 3)):
        out[f"w{i}"] = rng.normal(size=(fan_in, fan_out))
        out[f"b{i}"] = rng.normal(size=(fan_out,))
    return out


@Lazy
def MLP_CLS():
    from vibook.baselines import fit_mlp

    return fit_mlp(_key(), X2, Y3, n_classes=3, hidden=(4,), num_steps=20)


@Lazy
def MLP_REG():
    from vibook.baselines import fit_mlp

    return fit_mlp(_key(), X2, X1, hidden=(4,), num_steps=20)


@Lazy
def CORPUS():
    from vibook.data import make_lda_corpus

    return make_lda_corpus(8, n_topics=2, n_vocab=20, doc_length=15)


@Lazy
def LDA_FIT():
    """The params of an LDA fit: all that topic_word_distributions and friends read."""
    return {"topic_loc": np.random.default_rng(5).normal(size=(2, 20))}


def _counts():
    return CORPUS.get().counts


def _word_ids():
    return CORPUS.get().word_ids


COUNTS = Lazy(_counts)
WORD_IDS = Lazy(_word_ids)
TOPICS = Lazy(lambda: CORPUS.get().topics)
VOCAB = Lazy(lambda: list(CORPUS.get().vocab))
TEXTS = [["apple", "banana", "cherry"], ["apple", "cherry"], ["banana", "date"], ["date"]]
TOP = [["apple", "cherry"], ["banana", "date"]]


def _fresh_path():
    return Path(tempfile.mkdtemp(prefix="vibook-fuzz-")) / "fit"


def _saved_fit_path():
    return vibook.save(SVI_FIT.get(), _fresh_path())


SAVED = Lazy(_saved_fit_path)


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Arg:
    """One argument of a valid call."""

    name: str
    value: Any
    kind: str = "fixed"
    keyword: bool = False
    info: dict = field(default_factory=dict)

    def resolve(self):
        return self.value.get() if isinstance(self.value, Lazy | Fresh) else self.value


def P(name, value, kind="fixed", **info):
    """A positional argument."""
    return Arg(name, value, kind, False, info)


def K(name, value, kind="fixed", **info):
    """A keyword argument."""
    return Arg(name, value, kind, True, info)


@dataclass(frozen=True)
class Case:
    """A valid call of ``func``; ``model=True`` runs it as a NumPyro model (log density)."""

    func: str
    args: tuple[Arg, ...]
    model: bool = False
    max_examples: int = 10
    key_matters: bool = True  # for the reproducibility test
    nan_marks: tuple[str, ...] = ()  # result fields where NaN is a documented marker
    xfail: str | None = None

    @property
    def keyed(self) -> bool:
        return any(a.kind == "key" for a in self.args)


def _c(func, *args, **options):
    return Case(func, tuple(args), **options)


def _m(func, *args, **options):
    return Case(func, tuple(args), model=True, **options)


KEY = P("rng_key", _key(), "key")
NN = "vibook.models.conjugate."
CASES = [
    # vibook: runners, save/load
    _c(
        "vibook.infer.run_svi",
        KEY,
        P("model", Lazy(lambda: vibook.models.normal_normal), "callable"),
        P("x", X1, "data"),
        K("num_steps", 5, "count"),
        K("num_samples", 5, "count"),
        K("learning_rate", 0.01, "scale"),
        K("init_state", None, "state"),
        K("guide", None, "callable_or_none"),
        K("shard_data", False, "bool"),
        K("prior_scale", 1.0, "scale"),
        max_examples=8,
    ),
    _c(
        "vibook.infer.run_nuts",
        KEY,
        P("model", Lazy(lambda: vibook.models.beta_binomial), "callable"),
        P("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("num_warmup", 10, "count"),
        K("num_samples", 10, "count"),
        K("num_chains", 1, "count"),
        K("target_accept_prob", 0.8, "prob"),
        K("chain_method", "vectorized", "choice"),
        max_examples=6,
    ),
    _c(
        "vibook.infer.predictive",
        KEY,
        P("model", Lazy(lambda: vibook.models.normal_normal), "callable"),
        P("posterior", SVI_FIT, "fit"),
        K("n", 4, "count"),
    ),
    _c("vibook.infer.posterior_samples", P("posterior", NUTS_TREE, "fit"), key_matters=False),
    _c(
        "vibook.io.save",
        P("fit", SVI_FIT, "fit"),
        P("path", Fresh(_fresh_path), "path"),
        K("overwrite", False, "bool"),
    ),
    _c("vibook.io.load", P("path", SAVED, "path")),
    # conjugate models and their exact answers
    _m(
        NN + "beta_binomial",
        P("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("a", 1.0, "scale"),
        K("b", 2.0, "scale"),
    ),
    _c(
        NN + "beta_binomial_posterior",
        P("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("a", 1.0, "scale"),
        K("b", 2.0, "scale"),
    ),
    _c(
        NN + "beta_binomial_log_evidence",
        P("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("a", 1.0, "scale"),
        K("b", 2.0, "scale"),
    ),
    _c(
        NN + "coin_grid_posterior",
        P("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("prior", "beta", "choice"),
        K("a", 1.0, "scale"),
        K("b", 2.0, "scale"),
        K("grid_size", 50, "count"),
    ),
    _m(
        NN + "logit_normal_coin",
        P("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("loc", 0.0, "real"),
        K("scale", 1.5, "scale"),
    ),
    _m(
        NN + "normal_normal",
        P("x", X1, "data"),
        K("prior_loc", 0.0, "real"),
        K("prior_scale", 1.0, "scale"),
        K("noise_scale", 1.0, "scale"),
        K("subsample_size", None, "optcount", maximum=12),
    ),
    _c(
        NN + "normal_normal_posterior",
        P("x", X1, "data"),
        K("prior_loc", 0.0, "real"),
        K("prior_scale", 1.0, "scale"),
        K("noise_scale", 1.0, "scale"),
    ),
    _c(
        NN + "normal_normal_log_evidence",
        P("x", X1, "data"),
        K("prior_loc", 0.0, "real"),
        K("prior_scale", 1.0, "scale"),
        K("noise_scale", 1.0, "scale"),
    ),
    # logistic regression
    _m(
        "vibook.models.glm.logistic_regression",
        P("x", X2, "data"),
        P("y", Y01, "labels", n=2),
        K("prior_scale", 1.0, "scale"),
        K("subsample_size", None, "optcount", maximum=12),
    ),
    _c(
        "vibook.models.glm.logistic_heldout_loglik",
        P("posterior", GLM_FIT, "fit"),
        P("x", X2, "data"),
        P("y", Y01, "labels", n=2),
    ),
    _c(
        "vibook.models.glm.logistic_loglik",
        P("x", X2, "data"),
        P("y", Y01, "labels", n=2),
        K("w", np.array([1.0, -0.5]), "data"),
        K("b", 0.1, "real"),
    ),
    # hierarchical models
    _m(
        "vibook.models.hierarchical.eight_schools_centred",
        P("y", SCHOOLS_Y, "data"),
        K("sigma", SCHOOLS_SIGMA, "positive"),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
        K("tau_scale", 5.0, "scale"),
    ),
    _m(
        "vibook.models.hierarchical.eight_schools_noncentred",
        P("y", SCHOOLS_Y, "data"),
        K("sigma", SCHOOLS_SIGMA, "positive"),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
        K("tau_scale", 5.0, "scale"),
    ),
    _m(
        "vibook.models.hierarchical.hierarchical_normal",
        P("y", SCHOOLS_Y, "data"),
        K("sigma", SCHOOLS_SIGMA, "positive"),
        K("tau", 3.0, "scale"),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
    ),
    _c(
        "vibook.models.hierarchical.hierarchical_normal_posterior",
        P("y", SCHOOLS_Y, "data"),
        K("sigma", SCHOOLS_SIGMA, "positive"),
        K("tau", 3.0, "scale"),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
    ),
    # Gaussian mixtures
    _m(
        "vibook.models.gmm.gmm",
        P("x", X2, "data"),
        K("n_components", 2, "count"),
        K("covariance", "full", "choice"),
        K("concentration", 1.0, "scale"),
        K("loc_prior_scale", 5.0, "scale"),
        K("scale_prior_scale", 2.0, "scale"),
        K("lkj_concentration", 2.0, "scale"),
        K("subsample_size", None, "optcount", maximum=12),
    ),
    _m(
        "vibook.models.gmm.gmm_guide",
        P("x", X2, "data"),
        K("n_components", 2, "count"),
        K("covariance", "full", "choice"),
        K("init_values", GMM_INIT),
        K("init_scale", 0.01, "scale"),
    ),
    _c(
        "vibook.models.gmm.gmm_init_values",
        P("x", X2, "data"),
        P("n_components", 2, "count"),
        K("seed", 0, "count0"),
        K("subsample", 100, "count"),
        K("n_iter", 3, "count"),
    ),
    _c(
        "vibook.models.gmm.gmm_responsibilities",
        P("x", X2, "data"),
        P("posterior", GMM_DRAWS, "draws"),
    ),
    _c(
        "vibook.models.gmm.gmm_log_predictive",
        P("x", X2, "data"),
        P("posterior", GMM_DRAWS, "draws"),
    ),
    _c("vibook.models.gmm.gmm_point_estimate", P("posterior", GMM_DRAWS, "draws")),
    _c("vibook.models.gmm.gmm_covariances", P("draws", GMM_DRAWS, "draws")),
    _c(
        "vibook.models.gmm.relabel_draws",
        P("draws", GMM_DRAWS, "draws"),
        P("reference_locs", np.array([[-1.0, 0.0], [1.0, 0.0]]), "data"),
    ),
    # Bayesian neural networks
    _m(
        "vibook.models.bnn.bnn",
        P("x", X2, "data"),
        P("y", Y3, "labels", n=3),
        K("n_classes", 3, "count"),
        K("hidden", (4,), "hidden"),
        K("activation", "tanh", "choice"),
        K("prior_scale", 1.0, "scale"),
        K("subsample_size", None, "optcount", maximum=12),
    ),
    _m(
        "vibook.models.bnn.bnn_guide",
        P("x", X2, "data"),
        P("y", Y3, "labels", n=3),
        K("n_classes", 3, "count"),
        K("hidden", (4,), "hidden"),
        K("init_scale", 0.01, "scale"),
    ),
    _c(
        "vibook.models.bnn.bnn_apply",
        P("weights", BNN_WEIGHTS, "weights"),
        P("x", X2, "data"),
        K("activation", "tanh", "choice"),
    ),
    _c(
        "vibook.models.bnn.bnn_layer_shapes",
        P("n_inputs", 2, "count"),
        P("hidden", (4,), "hidden"),
        P("n_outputs", 3, "count"),
    ),
    _c(
        "vibook.models.bnn.fit_bnn",
        KEY,
        P("x", X2, "data"),
        P("y", Y3, "labels", n=3),
        K("n_classes", 3, "count"),
        K("hidden", (4,), "hidden"),
        K("num_steps", 5, "count"),
        K("learning_rate", 0.01, "scale"),
        K("batch_size", None, "optcount", maximum=12),
        K("num_particles", 1, "count"),
        K("prior_scale", 1.0, "scale"),
        K("init_loc", "map", "choice"),
        K("map_steps", 3, "count"),
        K("map_learning_rate", 0.01, "scale"),
        K("lr_schedule", "cosine", "choice"),
        K("local_reparam", True, "bool"),
        max_examples=6,
    ),
    _c(
        "vibook.models.bnn.prior_function_draws",
        KEY,
        P("x", X2, "data"),
        K("num_draws", 3, "count"),
        K("hidden", (4,), "hidden"),
        K("activation", "tanh", "choice"),
        K("prior_scale", 1.0, "scale"),
    ),
    _c(
        "vibook.models.bnn.predict_proba",
        KEY,
        P("posterior", BNN_CLS, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
    ),
    _c(
        "vibook.models.bnn.predict_regression",
        KEY,
        P("posterior", BNN_REG, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
    ),
    # baselines
    _c(
        "vibook.baselines.fit_mlp",
        KEY,
        P("x", X2, "data"),
        P("y", Y3, "labels", n=3),
        K("method", "map", "choice"),
        K("n_classes", 3, "count"),
        K("hidden", (4,), "hidden"),
        K("dropout", 0.1, "prob"),
        K("n_members", 2, "count"),
        K("num_steps", 5, "count"),
        K("learning_rate", 0.01, "scale"),
        K("batch_size", None, "optcount", maximum=12),
        max_examples=6,
    ),
    _c(
        "vibook.baselines.mlp_predict_proba",
        KEY,
        P("fit", MLP_CLS, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
        key_matters=False,
    ),
    _c(
        "vibook.baselines.mlp_predict_regression",
        KEY,
        P("fit", MLP_REG, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
        key_matters=False,
    ),
    # metrics
    _c("vibook.metrics.accuracy", P("probs", PROBS, "probs"), P("y", Y3, "labels", n=3)),
    _c("vibook.metrics.nll", P("probs", PROBS, "probs"), P("y", Y3, "labels", n=3)),
    _c("vibook.metrics.brier_score", P("probs", PROBS, "probs"), P("y", Y3, "labels", n=3)),
    _c(
        "vibook.metrics.calibration_bins",
        P("probs", PROBS, "probs"),
        P("y", Y3, "labels", n=3),
        K("n_bins", 5, "count"),
        nan_marks=("['confidence']", "['accuracy']"),  # NaN marks an empty bin (documented)
    ),
    _c(
        "vibook.metrics.expected_calibration_error",
        P("probs", PROBS, "probs"),
        P("y", Y3, "labels", n=3),
        K("n_bins", 5, "count"),
    ),
    _c("vibook.metrics.predictive_entropy", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.metrics.expected_aleatoric_entropy", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.metrics.mutual_information", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.metrics.ood_auroc", P("scores_in", X1, "data"), P("scores_out", X1 + 1, "data")),
    _c(
        "vibook.metrics.ece_if_calibrated",
        KEY,
        P("probs", PROBS, "probs"),
        K("n_bins", 5, "count"),
        K("num_draws", 20, "count"),
        K("level", 0.9, "prob"),
    ),
    _c(
        "vibook.metrics.paired_bootstrap",
        KEY,
        P("metric", Lazy(lambda: vibook.metrics.nll), "callable"),
        P("probs_a", PROBS, "probs"),
        P("probs_b", PROBS[::-1].copy(), "probs"),
        P("y", Y3, "labels", n=3),
        K("num_resamples", 20, "count"),
        K("level", 0.9, "prob"),
        K("statistic", "difference", "choice"),
    ),
    _c(
        "vibook.metrics.npmi_coherence",
        P("topics", TOP, "words"),
        P("texts", TEXTS, "words"),
        K("topn", 2, "count"),
        K("per_topic", False, "bool"),
    ),
    # topic models
    _m(
        "vibook.models.lda.lda",
        P("counts", COUNTS, "counts"),
        K("word_ids", WORD_IDS, "counts"),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("doc_topic_prior", 0.5, "scale"),
        K("topic_word_prior", 0.1, "scale"),
    ),
    _m(
        "vibook.models.lda.lda_guide",
        P("counts", COUNTS, "counts"),
        K("word_ids", WORD_IDS, "counts"),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
    ),
    _c(
        "vibook.models.lda.fit_lda",
        KEY,
        P("counts", COUNTS, "counts"),
        P("word_ids", WORD_IDS, "counts"),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("num_steps", 5, "count"),
        K("learning_rate", 0.05, "scale"),
        K("subsample_size", None, "optcount", maximum=8),
        K("num_samples", 3, "count"),
        max_examples=6,
    ),
    _c("vibook.models.lda.topic_word_distributions", P("fit", LDA_FIT, "fit")),
    _c(
        "vibook.models.lda.seed_topics",
        P("counts", COUNTS, "counts"),
        P("word_ids", WORD_IDS, "counts"),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("seed", 0, "count0"),
        K("sample", 50, "count"),
    ),
    _c(
        "vibook.models.lda.doc_topic_proportions",
        P("fit", LDA_FIT, "fit"),
        P("counts", COUNTS, "counts"),
        P("word_ids", WORD_IDS, "counts"),
        K("local_steps", 5, "count"),
    ),
    _c(
        "vibook.models.lda.infer_doc_topics",
        P("counts", COUNTS, "counts"),
        P("word_ids", WORD_IDS, "counts"),
        P("topics", TOPICS, "probs"),
        K("n_iter", 5, "count"),
    ),
    _c(
        "vibook.models.lda.perplexity",
        P("counts", COUNTS, "counts"),
        P("word_ids", WORD_IDS, "counts"),
        P("topics", TOPICS, "probs"),
    ),
    _c(
        "vibook.models.lda.top_words",
        P("topics", TOPICS, "probs"),
        P("vocab", VOCAB, "words"),
        P("n", 3, "count"),
    ),
    _c(
        "vibook.models.lda.topic_recovery",
        P("true_topics", TOPICS, "probs"),
        P("topics", TOPICS, "probs"),
        K("return_matching", False, "bool"),
    ),
    # active learning
    _c("vibook.active.bald", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.active.max_entropy", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.active.variation_ratios", P("probs_draws", PROBS_DRAWS, "probs")),
    _c(
        "vibook.active.random_scores",
        P("probs_draws", PROBS_DRAWS, "probs"),
        K("rng_key", _key(), "key"),
    ),
    _c(
        "vibook.active.acquisition_scores",
        P("acquisition", "bald", "choice"),
        P("probs_draws", PROBS_DRAWS, "probs"),
        key_matters=False,
    ),
    _c(
        "vibook.active.initial_labelled",
        KEY,
        P("y", Y3, "labels", n=3),
        P("n_per_class", 2, "count"),
    ),
    _c(
        "vibook.active.labels_to_reach",
        P("n_labels", np.array([2, 4, 6, 8]), "counts"),
        P("accuracy", np.array([0.5, 0.7, 0.9, 0.97]), "probs"),
        K("target", 0.95, "prob"),
    ),
    _c(
        "vibook.active.select_batch",
        P("scores", X1, "data"),
        P("labelled", np.arange(12) < 3, "mask"),
        P("batch_size", 2, "count"),
    ),
    _c(
        "vibook.active.run_active_learning",
        KEY,
        P("x_pool", X2, "data"),
        P("y_pool", Y3, "labels", n=3),
        P("x_test", X2, "data"),
        P("y_test", Y3, "labels", n=3),
        K("acquisition", "bald", "choice"),
        K("n_initial_per_class", 1, "count"),
        K("batch_size", 2, "count"),
        K("n_rounds", 1, "count"),
        K("num_draws", 3, "count"),
        K("hidden", (3,), "hidden"),
        K("num_steps", 3, "count"),
        K("initial_fits", 1, "count"),
        max_examples=8,
        nan_marks=(".scores",),  # NaN marks points labelled earlier
    ),
    # compile cache: only its argument checks (a valid call would switch on a global cache)
    _c("vibook.compile_cache.default_cache_dir", key_matters=False),
    _c("vibook.compile_cache.in_jupyter_kernel", key_matters=False),
]

# Public callables that are deliberately not called here, with the reason.
EXCLUDED = {
    "vibook.compile_cache.enable_compile_cache": (
        "switches on JAX's persistent compilation cache for the whole process; its argument "
        "checks are tested in tests/test_compile_cache.py"
    ),
}


def public_functions() -> dict[str, Any]:
    """Every public function (not class) named in an ``__all__`` of vibook, by full name."""
    modules = ["vibook", "vibook.models"] + [
        m.name
        for m in pkgutil.walk_packages(vibook.__path__, "vibook.")
        if not any(part.startswith("_") for part in m.name.split("."))
    ]
    found = {}
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if inspect.isclass(obj) or not callable(obj):
                continue
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return dict(sorted(found.items()))


def resolve(name: str):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def call(case: Case, replace: dict[int, Any] | None = None):
    """Call ``case.func`` with its valid arguments, some replaced (by position in args)."""
    replace = replace or {}
    func = resolve(case.func)
    args, kwargs = [], {}
    for i, arg in enumerate(case.args):
        value = replace[i] if i in replace else arg.resolve()
        if arg.keyword:
            kwargs[arg.name] = value
        else:
            args.append(value)
    if case.model:
        import numpyro
        from numpyro.infer.util import log_density

        log_joint, _ = log_density(numpyro.handlers.seed(func, 0), tuple(args), kwargs, {})
        return np.asarray(log_joint)
    return func(*args, **kwargs)


def leaves(obj, path="result"):
    """(path, ndarray) for every number inside a result: arrays, fits, DataTrees, dicts."""
    import numpyro.distributions as dist
    import pandas as pd

    if (
        obj is None
        or isinstance(obj, str | bytes | Path)
        or callable(obj)
        and not isinstance(obj, dist.Distribution | jax.Array)
    ):
        return
    if isinstance(obj, jax.Array) and jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
        yield path, np.asarray(jax.random.key_data(obj))
    elif isinstance(obj, np.ndarray | jax.Array | np.generic | int | float | complex):
        yield path, np.asarray(obj)
    elif isinstance(obj, xr.DataTree):
        for node in obj.subtree:
            for name, var in node.dataset.variables.items():
                yield f"{path}{node.path}/{name}", np.asarray(var.values)
    elif isinstance(obj, xr.Dataset | xr.DataArray):
        yield path, np.asarray(obj.values if isinstance(obj, xr.DataArray) else obj.to_array())
    elif isinstance(obj, pd.DataFrame | pd.Series):
        yield (
            path,
            obj.select_dtypes("number").to_numpy()
            if isinstance(obj, pd.DataFrame)
            else np.asarray(obj),
        )
    elif isinstance(obj, dist.Distribution):
        for i, leaf in enumerate(jax.tree.leaves(obj)):
            yield f"{path}.param{i}", np.asarray(leaf)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{path}[{k!r}]")
    elif isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple: by field name
        for name in obj._fields:
            yield from leaves(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{path}[{i}]")
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            yield from leaves(getattr(obj, name), f"{path}.{name}")


def nan_paths(result, allowed=()) -> list[str]:
    """Where a result holds NaN (leaving out the fields named in ``allowed``)."""
    out = []
    for path, arr in leaves(result):
        if allowed and path.endswith(tuple(allowed)):
            continue
        if arr.dtype.kind in "fc" and np.isnan(arr).any():
            out.append(path)
    return out


# Fields that measure wall-clock time: never reproducible, and not results.
TIMING_FIELDS = (".seconds", ".elapsed", ".time")


def same_numbers(a, b) -> bool:
    """Bit-identical numbers (timestamps, attributes and timings are not compared)."""
    la = [(p, x) for p, x in leaves(a) if not p.endswith(TIMING_FIELDS)]
    lb = [(p, x) for p, x in leaves(b) if not p.endswith(TIMING_FIELDS)]
    if [p for p, _ in la] != [p for p, _ in lb]:
        return False
    return all(
        x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()
        for (_, x), (_, y) in zip(la, lb, strict=True)
    )
