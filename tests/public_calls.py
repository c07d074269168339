"""A valid call of every public function, and how each argument may be malformed.

Used by ``test_bad_input.py`` (calls each function with one argument malformed, for every
argument and every malformation of its kind) and ``test_reproducibility.py`` (calls each
function that takes a random key twice). The public functions are discovered from ``__all__``
of ``vibook``, ``vibook.models`` and every public module (a module without ``__all__`` gives
every public function defined in it), so a function added later shows up in those tests as
"no valid call in the table".

Each argument has a *kind* that says which malformations apply: ``data`` (a float array),
``counts`` (integers >= 0), ``labels`` (integers in ``0..n_classes-1``), ``probs`` (values
in [0, 1]), ``positive`` (an array > 0), ``mask`` (a bool array), ``scale`` (a float > 0),
``nonneg`` (a float >= 0), ``real``, ``prob`` (a float in [0, 1]), ``count`` (an int >= 1),
``count0`` (an int >= 0), ``optcount`` (an int >= 1 or None), ``choice`` (one of some
strings), ``bool``, ``key``, ``callable``, ``callable_or_none``, ``fit``, ``fits`` (a dict of
fits), ``dataset``, ``draws``, ``weights``, ``arrays`` (dicts of arrays), ``panel`` (a dict of
numbers from :mod:`vibook.panels`), ``target`` (a mixture dict), ``pair`` (a location and a
scale), ``name`` (a variable or key name), ``names`` (a list of them), ``coords`` (a dict
selecting one value per dimension), ``words``, ``hidden``, ``classes``, ``shape``, ``path``,
``state``; ``fixed`` is never changed. Options of an argument: ``none_ok=True`` (None is a
valid value, so it is not tried as a malformation), ``paired=True`` (its length must match
another argument's, so one element fewer is malformed, and a wrong shape may be refused by
naming one of the other paired arguments), ``partners`` (further arguments a wrong shape may be
refused by naming), ``n`` (labels: the number of classes, so ``n`` itself is out of range).

``NOT_USER_FACING`` lists the public functions that are internal steps of other functions,
with the reason they get no call here; ``VALID_MALFORMED`` lists the malformations that are
in fact valid input for that function and argument, with the reason.
"""

from __future__ import annotations

import contextlib
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
from vibook.models.normal_gamma import NormalGamma

# --------------------------------------------------------------------------- data and fits
RNG = np.random.default_rng(0)
X1 = RNG.normal(size=12)  # 1-D data
X2 = RNG.normal(size=(12, 2))  # 2-D data
X2_SQUARE = RNG.uniform(size=(3, 16))  # three 4x4 images, flattened
Y01 = (X2[:, 0] + 0.3 * RNG.normal(size=12) > 0).astype(np.int64)  # binary labels
Y3 = np.arange(12) % 3  # three classes
PROBS = np.full((12, 3), 0.2) + 0.4 * np.eye(3)[Y3]  # rows sum to 1
PROBS_DRAWS = np.stack([PROBS, np.roll(PROBS, 1, axis=1)])  # (2, 12, 3)
GMM_INIT = {"weights": np.array([0.4, 0.6]), "locs": np.array([[-1.0, 0.0], [1.0, 0.0]])}
GMM_INIT["scales"] = np.ones((2, 2))
NG_PRIOR = NormalGamma(0.0, 1.0, 2.0, 2.0)
SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
TAU_GRID = np.linspace(0.0, 60.0, 241)  # covers eight schools' tau posterior
NUTS_TAU = np.random.default_rng(7).gamma(1.5, 2.5, size=200)  # like NUTS draws of tau
GRID = np.linspace(-2.0, 2.0, 20)  # inputs of a 1-D function
CURVES = np.sin(GRID) + 0.1 * RNG.normal(size=(5, 20))  # five functions on GRID
COUNTS_2D = np.array([[2, 0, 1, 0, 3], [0, 1, 0, 4, 0], [1, 1, 1, 0, 0], [0, 0, 2, 0, 5]])
VOCAB_5 = ["apple", "banana", "cherry", "date", "elder"]
IMAGES = RNG.uniform(size=(3, 64))  # three 8x8 images
IMAGES_7 = np.random.default_rng(11).uniform(size=(12, 49)).astype(np.float32)  # 7x7 images
CNN_SMALL = dict(image_shape=(7, 7), filters=(4, 4), kernel=2, hidden=8)
# Two well-separated clusters: what the mixture explorer is meant for.
MIX_X = np.concatenate([RNG.normal(-2.0, 0.5, size=(15, 2)), RNG.normal(2.0, 0.5, size=(15, 2))])


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

    return vibook.run_svi(_key(), normal_normal, X1, num_steps=20, num_draws=20)


@Lazy
def CONVERGED_FIT():
    """An SVI fit near the posterior: loo_svi warns (as ArviZ does) when a Pareto k is large."""
    from vibook.models import normal_normal

    return vibook.run_svi(_key(), normal_normal, X1, num_steps=1000, num_draws=20)


# Posteriors made by hand where a function accepts draws: no compilation, the same checks.
def _schools_tree(n_chains, n_draws, seed, stats):
    import arviz_base as azb

    rng = np.random.default_rng(seed)
    groups = {
        "posterior": {
            "theta": rng.normal(size=(n_chains, n_draws, 3)),
            "tau": rng.gamma(4.0, 1.0, size=(n_chains, n_draws)),
        }
    }
    if stats:
        diverging = np.zeros((n_chains, n_draws), bool)
        diverging[0, 3] = True
        groups["sample_stats"] = {
            "diverging": diverging,
            "energy": rng.normal(10.0, 1.0, size=(n_chains, n_draws)),
        }
    return azb.from_dict(groups, dims={"theta": ["school"]})


NUTS_TREE = Lazy(lambda: _schools_tree(2, 50, 2, stats=True))  # like a run_nuts result
VI_TREE = Lazy(lambda: _schools_tree(1, 100, 6, stats=False))  # like an SVI fit's posterior
FITS = Lazy(lambda: {"nuts": NUTS_TREE.get(), "vi": VI_TREE.get()})
POSTERIOR_DS = Lazy(lambda: NUTS_TREE.get()["posterior"].to_dataset())


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
    from vibook.networks import fit_bnn

    return fit_bnn(_key(), X2, Y3, n_classes=3, hidden=(4,), num_steps=20)


@Lazy
def VAE_FIT():
    from vibook.autoencoders import fit_vae

    return fit_vae(_key(), X2, latent_dim=1, hidden=(4,), num_steps=5, batch_size=4)


@Lazy
def BNN_REG():
    from vibook.networks import fit_bnn

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

    return fit_mlp(_key(), X2, Y3, n_classes=3, hidden=(4,), num_steps=20, method="dropout")


@Lazy
def MLP_MAP():
    from vibook.baselines import fit_mlp

    return fit_mlp(_key(), X2, Y3, n_classes=3, hidden=(4,), num_steps=20, method="map")


@Lazy
def CNN_FIT():
    from vibook.convnets import fit_dropout_cnn

    return fit_dropout_cnn(_key(), IMAGES_7, Y3, num_steps=5, batch_size=4, **CNN_SMALL)


@Lazy
def LAPLACE_FIT():
    from vibook.laplace import fit_last_layer_laplace

    return fit_last_layer_laplace(MLP_MAP.get(), X2, Y3)


@Lazy
def MLP_REG():
    from vibook.baselines import fit_mlp

    return fit_mlp(_key(), X2, X1, hidden=(4,), num_steps=20, method="dropout")


@Lazy
def CORPUS():
    from vibook.corpora import make_lda_corpus

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


# What the panel functions return, as the readouts and plots take them.
def _panel(module, func, *args, **kwargs):
    return Lazy(lambda: getattr(importlib.import_module(module), func)(*args, **kwargs))


COIN_PANEL = _panel("vibook.models", "coin_grid_posterior", 7, flips=10, grid_size=50)
BNN_PANEL = _panel("vibook.panels", "bnn_prior_panel", width=5, num_draws=3)
ELBO_PANEL = _panel("vibook.panels", "elbo_panel", X1, 0.0, 0.5)
TAU_PANEL = _panel("vibook.panels", "tau_prior_panel", grid_size=401)
KL_PANEL = _panel("vibook.panels", "kl_panel", 0.0, 1.0, grid_size=101)


def _fresh_dir():
    return Path(tempfile.mkdtemp(prefix="vibook-fuzz-"))


def _fresh_path():
    return _fresh_dir() / "fit"


def _saved_fit_path():
    return vibook.save(SVI_FIT.get(), _fresh_path())


SAVED = Lazy(_saved_fit_path)


# --------------------------------------------------------------------------- around a call
@contextlib.contextmanager
def _figures_closed():
    """Plots and widgets draw with matplotlib (Agg under pytest): close what they opened."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        yield
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


@contextlib.contextmanager
def _compile_cache_restored():
    """enable_compile_cache sets process-wide JAX options: put them back after the call."""
    from jax.experimental.compilation_cache import compilation_cache

    names = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
    )
    saved = {name: getattr(jax.config, name) for name in names}
    try:
        yield
    finally:
        if jax.config.jax_compilation_cache_dir != saved["jax_compilation_cache_dir"]:
            compilation_cache.reset_cache()
        for name, value in saved.items():
            jax.config.update(name, value)


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
    key_matters: bool = True  # for the reproducibility test
    nan_marks: tuple[str, ...] = ()  # result fields where NaN is a documented marker
    around: Any = None  # a context manager the call runs in (clean-up of global state)

    @property
    def keyed(self) -> bool:
        return any(a.kind == "key" for a in self.args)


def _c(func, *args, **options):
    return Case(func, tuple(args), **options)


def _m(func, *args, **options):
    return Case(func, tuple(args), model=True, **options)


def _plot(func, *args, **options):
    return Case(func, tuple(args), key_matters=False, around=_figures_closed, **options)


KEY = P("rng_key", _key(), "key")
NN = "vibook.models.conjugate."
PL = "vibook.plots."
EX = "vibook.exercises."
CASES = [
    # vibook: runners, save/load
    _c(
        "vibook.infer.svi.run_svi",
        KEY,
        P("model", Lazy(lambda: vibook.models.normal_normal), "callable"),
        P("x", X1, "data"),
        K("num_steps", 5, "count"),
        K("num_draws", 5, "count"),
        K("learning_rate", 0.01, "scale", none_ok=True),
        K("init_state", None, "state"),
        K("guide", None, "callable_or_none"),
        K("shard_data", False, "bool"),
        K("prior_scale", 1.0, "scale"),
    ),
    _c(
        "vibook.infer.nuts.run_nuts",
        KEY,
        P("model", Lazy(lambda: vibook.models.beta_binomial), "callable"),
        P("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("num_warmup", 10, "count"),
        K("num_draws", 10, "count"),
        K("num_chains", 1, "count"),
        K("target_accept_prob", 0.8, "prob"),
        K("chain_method", "vectorized", "choice", none_ok=True),
        K("log_likelihood", True, "bool"),
    ),
    _c(
        "vibook.infer.predictive.predictive",
        KEY,
        P("model", Lazy(lambda: vibook.models.normal_normal), "callable"),
        P("posterior", SVI_FIT, "fit"),
        K("n", 4, "count"),
        K("observed", {"x": X1[:4]}, "arrays", none_ok=True),
        K("return_sites", ["x"], "names", none_ok=True),
    ),
    _c(
        "vibook.infer.predictive.posterior_samples",
        P("posterior", NUTS_TREE, "fit"),
        key_matters=False,
    ),
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
        P("heads", 7, "count0", none_ok=True),
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
        P("heads", 7, "count0", none_ok=True),
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
    # the Normal with unknown mean and precision, and coordinate ascent on it
    _m(
        "vibook.models.normal_gamma.normal_gamma",
        P("x", X1, "data", none_ok=True),
        K("prior", NG_PRIOR, "normal_gamma"),
    ),
    _c(
        "vibook.models.normal_gamma.normal_gamma_posterior",
        P("x", X1, "data"),
        P("prior", NG_PRIOR, "normal_gamma"),
    ),
    _c(
        "vibook.models.normal_gamma.normal_gamma_log_evidence",
        P("x", X1, "data"),
        P("prior", NG_PRIOR, "normal_gamma"),
    ),
    _c("vibook.models.normal_gamma.check_normal_gamma", P("prior", NG_PRIOR, "normal_gamma")),
    _c(
        "vibook.cavi.normal_gamma_elbo",
        P("x", X1, "data"),
        P("prior", NG_PRIOR, "normal_gamma"),
        P("m", 0.5, "real"),
        P("lam", 10.0, "scale"),
        P("a", 3.0, "scale"),
        P("b", 2.0, "scale"),
    ),
    _c(
        "vibook.cavi.cavi_normal_gamma",
        P("x", X1, "data"),
        P("prior", NG_PRIOR, "normal_gamma"),
        K("n_iter", 3, "count"),
        K("init_tau", 1.0, "scale"),
    ),
    _c(
        "vibook.cavi.em_gmm",
        P("x", X2, "data"),
        K("weights", GMM_INIT["weights"], "probs", paired=True),
        K("means", GMM_INIT["locs"], "data", paired=True),
        K("covariances", np.stack([np.eye(2)] * 2), "positive", paired=True),
        K("n_iter", 3, "count"),
        K("reg_covar", 1e-6, "nonneg"),
    ),
    _c(
        "vibook.cavi.gmm_bound",
        P("x", X2, "data"),
        P("resp", np.full((12, 2), 0.5), "probs"),
        P("weights", GMM_INIT["weights"], "probs", paired=True),
        P("means", GMM_INIT["locs"], "data", paired=True),
        P("covariances", np.stack([np.eye(2)] * 2), "positive", paired=True),
    ),
    # logistic regression
    _m(
        "vibook.models.glm.logistic_regression",
        P("x", X2, "data", paired=True),
        P("y", Y01, "labels", n=2, paired=True, none_ok=True),
        K("prior_scale", 1.0, "scale"),
        K("subsample_size", None, "optcount", maximum=12),
    ),
    _c(
        "vibook.regression.logistic_heldout_loglik",
        P("posterior", GLM_FIT, "fit"),
        P("x", X2, "data", paired=True),
        P("y", Y01, "labels", n=2, paired=True),
    ),
    _c(
        "vibook.regression.logistic_laplace",
        P("x", X2, "data", paired=True),
        P("y", Y01, "labels", n=2, paired=True),
        K("prior_scale", 1.0, "scale"),
    ),
    _c(
        "vibook.models.glm.logistic_loglik",
        P("x", X2, "data", paired=True),
        P("y", Y01, "labels", n=2, paired=True),
        K("w", np.array([1.0, -0.5]), "data", paired=True),
        K("b", 0.1, "real"),
    ),
    # hierarchical models
    _m(
        "vibook.models.hierarchical.eight_schools_centred",
        P("y", SCHOOLS_Y, "data", paired=True, none_ok=True),
        K("sigma", SCHOOLS_SIGMA, "positive", paired=True),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
        K("tau_scale", 5.0, "scale"),
        K("tau_prior", "half_cauchy", "choice"),
    ),
    _m(
        "vibook.models.hierarchical.eight_schools_noncentred",
        P("y", SCHOOLS_Y, "data", paired=True, none_ok=True),
        K("sigma", SCHOOLS_SIGMA, "positive", paired=True),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
        K("tau_scale", 5.0, "scale"),
        K("tau_prior", "half_cauchy", "choice"),
    ),
    _m(
        "vibook.models.hierarchical.hierarchical_normal",
        P("y", SCHOOLS_Y, "data", paired=True, none_ok=True),
        K("sigma", SCHOOLS_SIGMA, "positive", paired=True),
        K("tau", 3.0, "scale"),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
    ),
    _c(
        "vibook.models.hierarchical.hierarchical_normal_posterior",
        P("y", SCHOOLS_Y, "data", paired=True),
        K("sigma", SCHOOLS_SIGMA, "positive", paired=True),
        K("tau", 3.0, "scale"),
        K("mu_loc", 0.0, "real"),
        K("mu_scale", 5.0, "scale"),
    ),
    _c(
        "vibook.models.hierarchical.eight_schools_tau_posterior",
        P("y", SCHOOLS_Y, "data", paired=True),
        K("sigma", SCHOOLS_SIGMA, "positive", paired=True),
        K("tau_grid", TAU_GRID, "data"),
        K("tau_prior", "half_cauchy", "choice"),
        K("tau_scale", 5.0, "scale"),
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
        P("x", X2, "data", partners=("init_values",)),
        K("n_components", 2, "count"),
        K("covariance", "full", "choice"),
        K("init_values", GMM_INIT),
        K("init_scale", 0.01, "scale"),
    ),
    _c(
        "vibook.mixtures.gmm_init_values",
        P("x", X2, "data"),
        P("n_components", 2, "count"),
        K("seed", 0, "count0"),
        K("subsample", 100, "count"),
        K("n_iter", 3, "count"),
    ),
    _c(
        "vibook.mixtures.gmm_responsibilities",
        P("x", X2, "data"),
        P("posterior", GMM_DRAWS, "draws"),
    ),
    _c(
        "vibook.mixtures.gmm_log_predictive",
        P("x", X2, "data"),
        P("posterior", GMM_DRAWS, "draws"),
    ),
    _c("vibook.mixtures.gmm_point_estimate", P("posterior", GMM_DRAWS, "draws")),
    _c("vibook.mixtures.gmm_covariances", P("draws", GMM_DRAWS, "draws")),
    _c(
        "vibook.mixtures.relabel_draws",
        P("draws", GMM_DRAWS, "draws"),
        P("reference_locs", np.array([[-1.0, 0.0], [1.0, 0.0]]), "data", paired=True),
    ),
    _c(
        "vibook.mixtures.mixture_log_density",
        P("x", X2, "data", partners=("locs",)),
        P("weights", np.array([0.4, 0.6]), "probs", paired=True),
        P("locs", np.array([[-1.0, 0.0], [1.0, 0.0]]), "data", paired=True),
        P("covariances", np.stack([np.eye(2), 0.5 * np.eye(2)]), "data", paired=True),
    ),
    _c(
        "vibook.mixtures.kmeans_as_mixture",
        P("x", X2, "data", paired=True, partners=("centres",)),
        P("labels", Y01, "labels", n=2, paired=True),
        P("centres", np.array([[-1.0, 0.0], [1.0, 0.0]]), "data"),
    ),
    _c(
        "vibook.mixtures.segment_image",
        P("x", X2, "data", partners=("shape",)),
        P("posterior", GMM_DRAWS, "draws"),
        P("shape", (3, 4), "shape"),
    ),
    # Bayesian neural networks
    _m(
        "vibook.models.bnn.bnn",
        P("x", X2, "data", paired=True),
        P("y", Y3, "labels", n=3, paired=True, none_ok=True),
        K("n_classes", 3, "count", none_ok=True),
        K("hidden", (4,), "hidden"),
        K("activation", "tanh", "choice"),
        K("prior_scale", 1.0, "scale"),
        K("subsample_size", None, "optcount", maximum=12),
    ),
    _m(
        "vibook.models.bnn.bnn_guide",
        P("x", X2, "data"),
        P("y", Y3),  # fixed: the guide takes the model's arguments but reads only x
        K("n_classes", 3, "count", none_ok=True),
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
        "vibook.networks.fit_bnn",
        KEY,
        P("x", X2, "data", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("n_classes", 3, "count", none_ok=True),
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
        "vibook.networks.predict_proba",
        KEY,
        P("posterior", BNN_CLS, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
    ),
    _c(
        "vibook.networks.predict_regression",
        KEY,
        P("posterior", BNN_REG, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
    ),
    _c("vibook.networks.sd_over_prior", P("fit", BNN_CLS, "fit"), key_matters=False),
    # baselines
    _c(
        "vibook.baselines.fit_mlp",
        KEY,
        P("x", X2, "data", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("method", "dropout", "choice"),
        K("n_classes", 3, "count", none_ok=True),
        K("hidden", (4,), "hidden"),
        K("dropout", 0.1, "prob"),
        K("n_members", 2, "count"),
        K("num_steps", 5, "count"),
        K("learning_rate", 0.01, "scale"),
        K("batch_size", None, "optcount", maximum=12),
        K("init", "standard", "choice"),
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
    _c(
        "vibook.baselines.class_probability_draws",
        KEY,
        P("fit", BNN_CLS, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
    ),
    _c(
        "vibook.baselines.score_table",
        P("probs_by_method", {"bnn": PROBS_DRAWS, "map": PROBS}, "arrays", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("n_bins", 5, "count"),
    ),
    # the MC-dropout convolutional network
    _c(
        "vibook.convnets.fit_dropout_cnn",
        KEY,
        P("x", IMAGES_7, "data", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("image_shape", (7, 7), "fixed"),
        K("n_classes", 3, "count", none_ok=True),
        K("filters", (4, 4), "fixed"),
        K("kernel", 2, "fixed"),
        K("hidden", 8, "count"),
        K("prior_precision", 1.0, "positive"),
        K("num_steps", 3, "count"),
        K("batch_size", 4, "count"),
        K("learning_rate", 1e-3, "positive"),
    ),
    _c(
        "vibook.convnets.dropout_cnn_predict_proba",
        KEY,
        P("fit", CNN_FIT, "fit"),
        P("x", IMAGES_7, "data"),
        K("num_draws", 3, "count"),
    ),
    # the last-layer Laplace approximation of a MAP network
    _c(
        "vibook.laplace.fit_last_layer_laplace",
        P("fit", MLP_MAP, "fit"),
        P("x", X2, "data", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("prior_precisions", np.logspace(-2, 2, 5), "positive", none_ok=True),
    ),
    _c(
        "vibook.laplace.laplace_predict_proba",
        KEY,
        P("lfit", LAPLACE_FIT, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
    ),
    # metrics
    _c(
        "vibook.metrics.accuracy",
        P("probs", PROBS, "probs", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
    ),
    _c(
        "vibook.metrics.nll",
        P("probs", PROBS, "probs", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
    ),
    _c(
        "vibook.metrics.brier_score",
        P("probs", PROBS, "probs", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
    ),
    _c(
        "vibook.metrics.calibration_bins",
        P("probs", PROBS, "probs", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("n_bins", 5, "count"),
        nan_marks=("['confidence']", "['accuracy']"),  # NaN marks an empty bin (documented)
    ),
    _c(
        "vibook.metrics.expected_calibration_error",
        P("probs", PROBS, "probs", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("n_bins", 5, "count"),
    ),
    _c("vibook.metrics.predictive_entropy", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.metrics.expected_aleatoric_entropy", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.metrics.mutual_information", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.metrics.ood_auroc", P("scores_in", X1, "data"), P("scores_out", X1 + 1, "data")),
    _c(
        "vibook.metrics.ood_auroc_interval",
        KEY,
        P("scores_in", X1, "data"),
        P("scores_out", X1 + 1, "data"),
        K("num_resamples", 20, "count"),
        K("level", 0.9, "prob"),
    ),
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
        P("probs_a", PROBS, "probs", paired=True),
        P("probs_b", PROBS[::-1].copy(), "probs", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("num_resamples", 20, "count"),
        K("level", 0.9, "prob"),
        K("statistic", "difference", "choice"),
    ),
    _c(
        "vibook.topic_scores.npmi_coherence",
        P("topics", TOP, "words"),
        P("texts", TEXTS, "words"),
        K("topn", 2, "count"),
        K("per_topic", False, "bool"),
    ),
    # topic models
    _m(
        "vibook.models.lda.lda",
        P("counts", COUNTS, "counts", paired=True),
        K("word_ids", WORD_IDS, "counts", paired=True),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("doc_topic_prior", 0.5, "scale", none_ok=True),
        K("topic_word_prior", 0.1, "scale", none_ok=True),
    ),
    _m(
        "vibook.models.lda.lda_guide",
        P("counts", COUNTS, "counts", paired=True),
        K("word_ids", WORD_IDS, "counts", paired=True),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
    ),
    _c(
        "vibook.topics.fit_lda",
        KEY,
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("num_steps", 5, "count"),
        K("learning_rate", 0.05, "scale"),
        K("subsample_size", None, "optcount", maximum=8),
        K("num_draws", 3, "count"),
    ),
    _c("vibook.topics.topic_word_distributions", P("fit", LDA_FIT, "fit")),
    _c(
        "vibook.online_lda.fit_lda_natural",
        KEY,
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("num_steps", 6, "count"),
        K("subsample_size", 4, "optcount", maximum=8),
        K("local_steps", 3, "count"),
        K("restarts", 2, "count"),
    ),
    _c(
        "vibook.topics.seed_topics",
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("seed", 0, "count0"),
        K("sample", 50, "count"),
    ),
    _c(
        "vibook.topics.doc_topic_proportions",
        P("fit", LDA_FIT, "fit"),
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        K("local_steps", 5, "count"),
    ),
    _c(
        "vibook.topic_scores.infer_doc_topics",
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        P("topics", TOPICS, "probs"),
        K("n_iter", 5, "count"),
    ),
    _c(
        "vibook.topic_scores.completion_perplexity",
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        P("topics", TOPICS, "probs"),
        K("observed_fraction", 0.5, "prob"),
        K("seed", 0, "count0"),
        K("n_iter", 5, "count"),
    ),
    _c(
        "vibook.topic_scores.perplexity",
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        P("topics", TOPICS, "probs"),
    ),
    _c(
        "vibook.topics.top_words",
        P("topics", TOPICS, "data"),
        P("vocab", VOCAB, "words"),
        P("n", 3, "count"),
    ),
    _c(
        "vibook.topic_scores.topic_recovery",
        P("true_topics", TOPICS, "probs"),
        P("topics", TOPICS, "probs", paired=True),
        K("return_matching", False, "bool"),
    ),
    _c(
        "vibook.topic_scores.topic_similarity",
        P("topics_a", TOPICS, "probs"),
        P("topics_b", TOPICS, "probs"),
    ),
    # active learning
    _c("vibook.acquisition.bald", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.acquisition.max_entropy", P("probs_draws", PROBS_DRAWS, "probs")),
    _c("vibook.acquisition.variation_ratios", P("probs_draws", PROBS_DRAWS, "probs")),
    _c(
        "vibook.acquisition.random_scores",
        P("probs_draws", PROBS_DRAWS, "probs"),
        K("rng_key", _key(), "key"),
    ),
    _c(
        "vibook.acquisition.acquisition_scores",
        P("acquisition", "bald", "choice"),
        P("probs_draws", PROBS_DRAWS, "probs"),
        key_matters=False,
    ),
    _c(
        "vibook.acquisition.initial_labelled",
        KEY,
        P("y", Y3, "labels"),
        P("n_per_class", 2, "count"),
    ),
    _c(
        "vibook.active.labels_to_reach",
        P("n_labels", np.array([2, 4, 6, 8]), "counts", paired=True),
        P("accuracy", np.array([0.5, 0.7, 0.9, 0.97]), "probs", paired=True),
        K("target", 0.95, "prob"),
    ),
    _c(
        "vibook.acquisition.select_batch",
        P("scores", X1, "data", paired=True),
        P("labelled", np.arange(12) < 3, "mask", paired=True),
        P("batch_size", 2, "count"),
    ),
    _c(
        "vibook.active.run_active_learning",
        KEY,
        P("x_pool", X2, "data", paired=True),
        P("y_pool", Y3, "labels", paired=True),
        P("x_test", X2, "data", paired=True),
        P("y_test", Y3, "labels", paired=True),
        K("acquisition", "bald", "choice"),
        K("n_initial_per_class", 1, "count"),
        K("batch_size", 2, "count"),
        K("n_rounds", 1, "count0"),
        K("num_draws", 3, "count"),
        K("hidden", (3,), "hidden"),
        K("num_steps", 3, "count"),
        K("initial_fits", 1, "count"),
        nan_marks=(".scores",),  # NaN marks points labelled earlier
    ),
    # no arguments: the call is all there is to check
    _c("vibook.compile_cache.default_cache_dir", key_matters=False),
    _c("vibook.kernel.in_jupyter_kernel", key_matters=False),
    # the compile cache, in a fresh folder; the JAX options it sets are restored after it
    _c(
        "vibook.compile_cache.enable_compile_cache",
        P("path", Fresh(_fresh_dir), "path", none_ok=True),
        K("min_compile_seconds", 0.0, "nonneg"),
        key_matters=False,
        around=_compile_cache_restored,
    ),
    _c("vibook.kernel.default_progress_bar", key_matters=False),
    _c("vibook.infer.svi.check_progress_bar", P("progress_bar", False, "bool", none_ok=True)),
    # PSIS of a finished fit
    _c(
        "vibook.infer.psis.psis_diagnostic",
        P("fit", SVI_FIT, "fit"),
        K("rng_key", _key(), "key", none_ok=True),
        K("num_draws", 100, "count"),
    ),
    _c(
        "vibook.infer.psis.psis_khat",
        P("fit", SVI_FIT, "fit"),
        K("rng_key", _key(), "key", none_ok=True),
        K("num_draws", 100, "count"),
    ),
    _c(
        "vibook.infer.psis.loo_svi",
        P("fit", CONVERGED_FIT, "fit"),
        K("rng_key", _key(), "key", none_ok=True),
        K("num_draws", 1000, "count"),  # ArviZ's k threshold is 0.5 at 100 draws, 0.67 at 1000
        K("var_name", "x", "name", none_ok=True),
        K("pointwise", True, "bool", none_ok=True),
    ),
    # reading fits
    _c("vibook.fit.as_datatree", P("posterior", SVI_FIT, "fit"), K("name", "posterior")),
    _c(
        "vibook.fit.as_draws",
        P("posterior", NUTS_TREE, "fit"),
        K("name", "posterior"),
        K("required", ("theta",)),
    ),
    _c("vibook.fit.khat_reading", P("khat", 0.3, "real", none_ok=True)),
    # data sets
    _c("vibook.data.load_faithful"),
    _c(
        "vibook.data.load_image_pixels",
        K("name", "flower.jpg", "choice"),
        K("step", 16, "count"),
        K("test_size", 0.2, "prob"),
        K("seed", 0, "count0"),
    ),
    _c(
        "vibook.data.make_mixture",
        P("n", 20, "count"),
        K("n_components", 2, "count"),
        K("dim", 2, "count"),
        K("separation", 4.0, "scale"),
        K("concentration", 10.0, "scale"),
        K("seed", 0, "count0"),
    ),
    _c(
        "vibook.data.gap_regression",
        K("n", 10, "count"),
        K("noise", 0.1, "scale"),
        K("seed", 0, "count0"),
    ),
    _c(
        "vibook.data.two_moons",
        K("n", 20, "count"),
        K("noise", 0.1, "scale"),
        K("seed", 0, "count0"),
    ),
    # the variational autoencoder
    *[
        _m(
            f"vibook.models.vae.{func}",
            P("x", X2, "data"),
            K("latent_dim", 1, "count"),
            K("hidden", (4,), "hidden"),
            K("activation", "relu", "choice"),
            K("output", "sigmoid", "choice"),
            K("noise", "shared", "choice"),
            K("batch_size", None, "optcount", maximum=12),
        )
        for func in ("vae", "vae_guide")
    ],
    _c(
        "vibook.models.vae.init_mlp",
        KEY,
        P("n_inputs", 2, "count"),
        P("hidden", (4,), "hidden"),
        P("n_outputs", 3, "count"),
        K("gain", 1.0, "scale"),
    ),
    _c(
        "vibook.autoencoders.fit_vae",
        KEY,
        P("x", X2, "data"),
        K("latent_dim", 1, "count"),
        K("hidden", (4,), "hidden"),
        K("activation", "relu", "choice"),
        K("output", "identity", "choice"),
        K("noise", "pixel", "choice"),
        K("num_steps", 3, "count"),
        K("batch_size", 4, "count", maximum=12),
        K("learning_rate", 0.01, "scale"),
    ),
    _c("vibook.autoencoders.encode", P("fit", VAE_FIT, "fit"), P("x", X2, "data")),
    _c("vibook.autoencoders.decode", P("fit", VAE_FIT, "fit"), P("z", X2[:, :1], "data")),
    _c(
        "vibook.autoencoders.elbo_per_image",
        KEY,
        P("fit", VAE_FIT, "fit"),
        P("x", X2, "data"),
        K("num_draws", 5, "count"),
    ),
    _c(
        "vibook.autoencoders.fit_local_q",
        KEY,
        P("fit", VAE_FIT, "fit"),
        P("x", X2, "data"),
        K("num_steps", 3, "count"),
        K("learning_rate", 0.01, "scale"),
        K("num_draws", 2, "count"),
    ),
    _c(
        "vibook.autoencoders.iwae_bounds",
        KEY,
        P("fit", VAE_FIT, "fit"),
        P("x", X2, "data"),
        P("ks", [1, 3]),
    ),
    _c(
        "vibook.data.load_mnist_5k",
        K("n_test", 1000, "count"),
        K("seed", 0, "count0"),
        K("dequantize", True, "bool"),
    ),
    _c(
        "vibook.data.load_digits_split",
        K("test_size", 0.3, "prob"),
        K("seed", 0, "count0"),
        K("classes", [3, 7], "classes", none_ok=True),
        K("standardize", False, "bool"),
    ),
    _c(
        "vibook.intervals.seed_interval",
        P("values", [0.9, 0.95, 0.93], "data"),
        K("level", 0.9, "prob"),
    ),
    _c(
        "vibook.intervals.seeds_paired_bootstrap",
        KEY,
        P("metric", Lazy(lambda: vibook.metrics.nll), "callable"),
        P("probs_a", [PROBS, PROBS], "fixed"),
        P("probs_b", [np.roll(PROBS, 1, axis=0), PROBS], "fixed"),
        P("y", [Y3, Y3], "fixed"),
        K("num_resamples", 5, "count"),
        K("level", 0.9, "prob"),
        K("statistic", "ratio", "choice"),
    ),
    _c("vibook.data.rotate_images", P("images", X2_SQUARE, "data"), P("angle", 15.0, "real")),
    _c(
        "vibook.data.synthetic_logistic",
        P("n", 10, "count"),
        K("n_features", 3, "count"),
        K("seed", 0, "count0"),
        K("truth_seed", 0, "count0"),
    ),
    # corpora
    _c(
        "vibook.corpora.corpus_from_counts",
        P("counts", COUNTS_2D, "counts"),
        P("vocab", VOCAB_5, "words", none_ok=True),
    ),
    _c("vibook.corpora.load_lee_corpus", K("no_below", 5, "count"), K("no_above", 0.5, "prob")),
    _c(
        "vibook.corpora.make_lda_corpus",
        P("n_docs", 8, "count"),
        K("n_topics", 2, "count"),
        K("n_vocab", 20, "count"),
        K("doc_length", 15, "count"),
        K("doc_topic_prior", None, "scale", none_ok=True),
        K("topic_word_prior", 0.1, "scale"),
        K("seed", 0, "count0"),
    ),
    # diagnostics
    _c(
        "vibook.diagnostics.compare_posteriors",
        P("fits", FITS, "fits"),
        K("var_names", None, "names", none_ok=True),
        K("reference", None, "name", none_ok=True),
        K("ci_prob", 0.9, "prob"),
    ),
    _c(
        "vibook.diagnostics.nuts_diagnostics",
        P("idata", NUTS_TREE, "fit"),
        K("var_names", None, "names", none_ok=True),
        K("rhat_max", 1.01, "scale"),
        K("ess_min", None, "scale", none_ok=True),
        K("bfmi_min", 0.3, "scale"),
    ),
    _c(
        "vibook.diagnostics.select_scalar",
        P("posterior", POSTERIOR_DS, "dataset"),
        P("var_name", "theta", "name"),
        P("coords", {"school": 0}, "coords"),
    ),
    # network helpers shared by the BNN, the baselines and the panels
    _c("vibook.models.bnn.check_activation", P("activation", "tanh", "choice")),
    _c("vibook.models.bnn.check_hidden", P("hidden", (4,), "hidden")),
    _c(
        "vibook.models.bnn.check_xy",
        P("x", X2, "data", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        P("n_classes", 3, "count", none_ok=True),
        K("y_required", True, "bool"),
    ),
    _c("vibook.models.bnn.layer_scales", P("prior_scale", 1.0, "scale"), P("n_layers", 2, "count")),
    _c(
        "vibook.models.bnn.prior_sds",
        P("n_inputs", 2, "count"),
        P("hidden", (4,), "hidden"),
        P("n_outputs", 1, "count"),
        P("prior_scale", 1.0, "scale"),
    ),
    # topic-model helpers shared by the LDA model, its guide and vibook.topics
    _c(
        "vibook.models.lda.check_corpus",
        P("counts", COUNTS, "counts", paired=True),
        P("word_ids", WORD_IDS, "counts", paired=True),
        P("n_vocab", 20, "count"),
    ),
    _c("vibook.models.lda.check_sizes", P("n_topics", 2, "count"), P("n_vocab", 20, "count")),
    _c(
        "vibook.models.lda.lda_priors",
        P("n_topics", 2, "count"),
        P("doc_topic_prior", None, "scale", none_ok=True),
        P("topic_word_prior", None, "scale", none_ok=True),
    ),
    _c("vibook.acquisition.check_acquisition", P("acquisition", "bald", "choice")),
    # panels: what the widgets show
    _c("vibook.panels.coin_readout", P("panel", COIN_PANEL, "panel")),
    _c(
        "vibook.panels.bnn_prior_panel",
        K("prior_scale", 1.0, "scale"),
        K("width", 5, "count"),
        K("activation", "tanh", "choice"),
        K("num_draws", 3, "count"),
        K("seed", 0, "count0"),
        key_matters=False,
    ),
    _c("vibook.panels.bnn_prior_readout", P("panel", BNN_PANEL, "panel")),
    _c(
        "vibook.panels.mixture_occupancy",
        P("x", MIX_X, "data"),
        K("n_components", 2, "count"),
        K("concentration", 1.0, "scale"),
        K("seed", 0, "count0"),
        K("threshold", 0.01, "prob"),
    ),
    _c(
        "vibook.panels.kl_panel",
        P("q_loc", 0.0, "real"),
        P("q_scale", 1.0, "scale"),
        K("target", None, "target", none_ok=True),
        K("grid_size", 101, "count"),
    ),
    _c(
        "vibook.panels.fit_gaussian_kl",
        P("direction", "reverse", "choice"),
        K("target", None, "target", none_ok=True),
        K("init", (1.0, 1.0), "pair"),
    ),
    _c(
        "vibook.panels.elbo_panel",
        P("x", X1, "data"),
        P("q_loc", 0.0, "real"),
        P("q_scale", 0.5, "scale"),
        K("prior_loc", 0.0, "real"),
        K("prior_scale", 1.0, "scale"),
        K("noise_scale", 1.0, "scale"),
    ),
    _c("vibook.panels.elbo_readout", P("panel", ELBO_PANEL, "panel")),
    _c(
        "vibook.panels.tau_prior_panel",
        K("tau_prior", "half_cauchy", "choice"),
        K("tau_scale", 5.0, "scale"),
        K("threshold", 5.0, "scale"),
        K("grid_size", 401, "count"),
    ),
    _c("vibook.panels.tau_prior_readout", P("panel", TAU_PANEL, "panel")),
    # widgets: building the widget (and its first drawing) is the call
    _plot(
        "vibook.widgets.coin_flip_explorer",
        K("a", 2.0, "scale"),
        K("b", 2.0, "scale"),
        K("heads", 7, "count0"),
        K("tails", 3, "count0"),
        K("prior", "beta", "choice"),
    ),
    _plot(
        "vibook.widgets.bnn_prior_explorer",
        K("prior_scale", 1.0, "scale"),
        K("width", 5, "count"),
        K("activation", "tanh", "choice"),
    ),
    _plot(
        "vibook.widgets.mixture_explorer",
        P("x", MIX_X, "data"),
        K("n_components", 2, "count"),
        K("concentration", 0.01, "scale"),
    ),
    _plot(
        "vibook.widgets.elbo_explorer",
        P("x", X1, "data"),
        K("q_loc", 0.0, "real"),
        K("q_scale", 0.5, "scale"),
    ),
    _plot(
        "vibook.widgets.tau_prior_explorer",
        K("tau_prior", "half_cauchy", "choice"),
        K("tau_scale", 5.0, "scale"),
        K("nuts_tau", NUTS_TAU, "data", none_ok=True),
    ),
    # plots
    _plot(PL + "plot_coin_posterior", P("panel", COIN_PANEL, "panel")),
    _plot(
        PL + "plot_marginal_overlay",
        P("fits", FITS, "fits"),
        P("var_name", "theta", "name"),
        K("coords", {"school": 0}, "coords"),
        K("reference", None, "name", none_ok=True),
        K("bins", 10, "count"),
    ),
    _plot(
        PL + "plot_divergences",
        P("idata", NUTS_TREE, "fit"),
        P("x_var", "theta", "name"),
        P("y_var", "tau", "name"),
        K("x_coords", {"school": 0}, "coords"),
        K("y_coords", None, "coords", none_ok=True),
        K("log_y", True, "bool"),
    ),
    _plot(
        PL + "plot_regression_uncertainty",
        P("x", GRID, "data", paired=True),
        P("mean_draws", CURVES, "data"),
        P("sigma", 0.1, "scale", none_ok=True),
        K("x_data", X1, "data", paired=True, none_ok=True),
        K("y_data", X1 + 1.0, "data", paired=True),
        K("gap", (-0.5, 0.5)),
    ),
    _plot(
        PL + "plot_reliability",
        P("probs", PROBS, "probs", paired=True),
        P("y", Y3, "labels", n=3, paired=True),
        K("n_bins", 5, "count"),
    ),
    _plot(
        PL + "plot_function_draws",
        P("x", GRID, "data", paired=True),
        P("draws", CURVES, "data"),
        K("max_lines", 3, "count"),
    ),
    _plot(
        PL + "plot_learning_curves",
        P("n_labels", np.array([2, 4, 6, 8]), "counts", paired=True),
        P("accuracy", {"bald": np.array([[0.5, 0.7, 0.8, 0.9], [0.4, 0.6, 0.8, 0.95]])}, "arrays"),
        K("target", 0.9, "prob", none_ok=True),
    ),
    _plot(
        PL + "plot_image_row",
        P("images", IMAGES, "data"),
        K("titles", ["a", "b", "c"]),
        K("shape", (8, 8), "shape"),
    ),
    _plot(
        PL + "plot_mixture_2d",
        P("x", X2, "data", paired=True),
        P("weights", np.array([0.4, 0.6]), "probs", paired=True),
        P("locs", np.array([[-1.0, 0.0], [1.0, 0.0]]), "data", paired=True),
        P("covariances", np.stack([np.eye(2), 0.5 * np.eye(2)]), "data", paired=True),
        K("labels", Y01, "data", paired=True, none_ok=True),  # colour values,
    ),
    _plot(PL + "plot_kl_fits", P("panel", KL_PANEL, "panel")),
    _plot(PL + "plot_elbo_panel", P("panel", ELBO_PANEL, "panel")),
    # exercises: each checker takes any answer (a wrong one gets a message, never an error), so
    # the answer is fixed here, as the stub; the exercise's inputs are checked like any other
    _c(
        EX + "bayes_theorem.check_beta_posterior",
        P("answer", None),
        K("a", 2.0, "scale"),
        K("b", 2.0, "scale"),
        K("heads", 19, "count0"),
        K("tails", 11, "count0"),
    ),
    _c(
        EX + "bayes_theorem.check_grid_posterior",
        P("func", None),
        K("heads", 7, "count0"),
        K("flips", 10, "count0"),
        K("a", 2.0, "scale"),
        K("b", 2.0, "scale"),
        K("grid_size", 801, "count"),
    ),
    _c(
        EX + "bayes_theorem.check_evidence_prediction",
        P("answer", None),
        K("heads", 7, "count0"),
        K("flips", 10, "count"),
        K("weak", (2.0, 2.0), "pair"),
        K("strong", (20.0, 20.0), "pair"),
    ),
    _c(
        EX + "latent_variables.check_point_responsibilities",
        P("answer", None),
        K("x", 0.0, "real"),
        K("weights", np.array([0.3, 0.7]), "probs", paired=True),
        K("locs", np.array([-1.0, 2.0]), "data", paired=True),
        K("scales", np.array([1.0, 1.0]), "positive", paired=True),
    ),
    _c(
        EX + "latent_variables.check_e_step",
        P("func", None),
        K("x", X2, "data", partners=("means",)),
        K("weights", GMM_INIT["weights"], "probs", paired=True),
        K("means", GMM_INIT["locs"], "data", paired=True),
        K("covariances", np.stack([np.eye(2)] * 2), "positive", paired=True),
    ),
    _c(
        EX + "latent_variables.check_label_copies",
        P("answer", None),
        K("n_components", 3, "count"),
    ),
    _c(
        EX + "kl_and_elbo.check_gaussian_kl",
        P("answer", None),
        K("q_loc", 1.0, "real"),
        K("q_scale", 0.5, "scale"),
        K("p_loc", 0.0, "real"),
        K("p_scale", 1.0, "scale"),
    ),
    _c(
        EX + "kl_and_elbo.check_mc_elbo",
        P("func", None),
        K("x", X1, "data"),
        K("q_loc", 0.5, "real"),
        K("q_scale", 0.5, "scale"),
        K("num_draws", 100, "count"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "kl_and_elbo.check_reverse_kl_prediction",
        P("answer", None),
        K("peak", 4.0, "scale"),
        K("scale", 0.6, "scale"),
    ),
    _c(
        EX + "coordinate_ascent.check_cavi_update",
        P("answer", None),
        K("x", X1, "data"),
        K("prior", NG_PRIOR, "normal_gamma"),
        K("e_tau", 4.0, "scale"),
    ),
    _c(
        EX + "coordinate_ascent.check_m_step",
        P("func", None),
        K("x", X2, "data", paired=True),
        K("resp", PROBS, "probs", paired=True),
    ),
    _c(
        EX + "coordinate_ascent.check_cavi_start_prediction",
        P("answer", None),
        K("x", X1, "data"),
        K("prior", NG_PRIOR, "normal_gamma"),
        K("first_start", 50.0, "scale"),
        K("second_start", 0.01, "scale"),
        K("n_iter", 5, "count"),
    ),
    # exercises of notebook 05 (vibook.exercises.stochastic_vi)
    _c(
        EX + "stochastic_vi.check_pathwise_gradient",
        P("answer", None),
        K("x", X1, "data"),
        K("q_loc", 0.5, "real"),
        K("q_scale", 0.3, "scale"),
        K("eps", -1.2, "real"),
    ),
    _c(
        EX + "stochastic_vi.check_score_gradient",
        P("func", None),
        K("x", X1, "data"),
        K("q_loc", 0.5, "real"),
        K("q_scale", 0.3, "scale"),
        K("num_draws", 100, "count"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "stochastic_vi.check_particles_prediction",
        P("answer", None),
        K("x", X1, "data"),
        K("q_loc", 0.5, "real"),
        K("q_scale", 0.3, "scale"),
    ),
    # exercises of notebook 06 (vibook.exercises.mcmc_diagnostics)
    _c(
        EX + "mcmc_diagnostics.check_split_rhat",
        P("answer", None),
        K("chains", np.array([[2.0, 1.0, 5.0, 4.0], [4.0, 2.0, 0.0, 1.0]]), "data"),
    ),
    _c(
        EX + "mcmc_diagnostics.check_rank_rhat",
        P("func", None),
        K("n_chains", 4, "count"),
        K("n_draws", 100, "count"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "mcmc_diagnostics.check_stuck_chain_prediction",
        P("answer", None),
        K("draws", NUTS_TAU.reshape(4, 50), "data"),
        K("chain", 0, "count0"),
        K("quantile", 0.5, "prob"),
        K("rhat_max", 1.01, "scale"),
    ),
    # exercises of notebook 07 (vibook.exercises.topic_models)
    _c(
        EX + "topic_models.check_token_responsibilities",
        P("answer", None),
        K("gamma", np.array([6.0, 2.5, 0.5]), "positive", paired=True),
        K("topic_probs", np.array([0.002, 0.010, 0.030]), "probs", paired=True),
    ),
    _c(
        EX + "topic_models.check_local_e_step",
        P("func", None),
        K("counts", Lazy(lambda: CORPUS.get().counts[0]), "counts", paired=True),
        K("word_ids", Lazy(lambda: CORPUS.get().word_ids[0]), "counts", paired=True),
        K("topics", TOPICS, "probs"),
        K("alpha", 0.5, "scale", none_ok=True),
    ),
    _c(
        EX + "topic_models.check_topic_share_prediction",
        P("answer", None),
        K("topics", TOPICS, "probs"),
        K("counts", COUNTS, "counts", paired=True),
        K("word_ids", WORD_IDS, "counts", paired=True),
        K("alpha", 1.0, "scale"),
        K("base_alpha", None, "scale", none_ok=True),
        K("local_steps", 5, "count"),
        K("seed", 0, "count0"),
    ),
    # exercises of notebook 08 (vibook.exercises.vae)
    _c(
        EX + "vae.check_encoder_kl",
        P("answer", None),
        K("loc", np.array([0.4, -1.0]), "data", paired=True),
        K("scale", np.array([0.5, 0.2]), "positive", paired=True),
    ),
    _c(
        EX + "vae.check_iwae_estimator",
        P("func", None),
        K("num_draws", 50, "count"),
        K("n_images", 8, "count"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "vae.check_prior_proposal_prediction",
        P("answer", None),
        K("fit", VAE_FIT, "fit"),
        K("x", X2, "data"),
        K("num_draws", 5, "count"),
        K("seed", 0, "count0"),
    ),
    # exercises of notebook 09 (vibook.exercises.bnn_regression)
    _c(
        EX + "bnn_regression.check_variance_split",
        P("answer", None),
        K("f_draws", X1, "data", paired=True),
        K("sigma_draws", np.linspace(0.1, 0.2, 12), "positive", paired=True),
    ),
    _c(
        EX + "bnn_regression.check_predictive_mean_sd",
        P("func", None),
        K("f_draws", CURVES, "data", paired=True),
        K("sigma_draws", np.linspace(0.1, 0.2, 5), "positive", paired=True),
    ),
    _c(
        EX + "bnn_regression.check_gap_point_prediction",
        P("answer", None),
        K("f_draws", X1, "data", paired=True),
        K("sigma_draws", np.linspace(0.1, 0.2, 12), "positive", paired=True),
        K("y_new", 0.0, "real"),
    ),
    # exercises of notebook 10 (vibook.exercises.bnn_classification)
    _c(
        EX + "bnn_classification.check_uncertainty_split",
        P("answer", None),
        K("probs", PROBS_DRAWS[:, 0], "probs"),
    ),
    _c(
        EX + "bnn_classification.check_ece",
        P("func", None),
        K("n_points", 50, "count"),
        K("n_classes", 3, "count"),
        K("n_bins", 5, "count"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "bnn_classification.check_temperature_prediction",
        P("answer", None),
        K("probs", PROBS, "probs", paired=True),
        K("y", Y3, "labels", n=3, paired=True),
        K("temperature", 0.5, "scale"),
        K("n_bins", 5, "count"),
    ),
    # exercises of notebook 11 (vibook.exercises.priors)
    _c(
        EX + "priors.check_prior_sd",
        P("answer", None),
        K("x", np.array([0.0, 2.0]), "data"),
        K("prior_scale", 3.0, "scale"),
        K("width", 50, "count"),
    ),
    _c(
        EX + "priors.check_prior_draws",
        P("func", None),
        K("x", GRID, "data"),
        K("num_draws", 100, "count"),
        K("width", 5, "count"),
        K("prior_scale", 2.0, "scale"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "priors.check_kurtosis_prediction",
        P("answer", None),
        K("x", 1.0, "real"),
        K("width", 10, "count"),
        K("prior_scale", 1.0, "scale"),
        K("new_scale", 3.0, "scale"),
    ),
    # exercises of notebook 12 (vibook.exercises.active_learning)
    _c(
        EX + "active_learning.check_entropy_and_variation_ratio",
        P("answer", None),
        K("votes", np.array([[3, 3, 3, 3], [3, 3, 3, 8], [1, 7, 1, 7]]), "labels", n=10),
        K("confidence", 0.7, "prob"),
        K("n_classes", 10, "count"),
    ),
    _c(
        EX + "active_learning.check_bald",
        P("func", None),
        K("n_draws", 5, "count"),
        K("n_points", 6, "count"),
        K("n_classes", 3, "count"),
        K("concentration", 0.5, "scale"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "active_learning.check_bald_pick_prediction",
        P("answer", None),
        K("n_draws", 4, "count"),
        K("n_classes", 3, "count"),
        K("sure", 0.9, "prob"),
    ),
    # exercises of notebook 13 (vibook.exercises.scaling)
    _c(
        EX + "scaling.check_minibatch_scale",
        P("answer", None),
        K("n", 1000, "count"),
        K("batch_size", 50, "count"),
        K("batch_sum", -29.3, "real"),
        K("kl", 3.5, "nonneg"),
    ),
    _c(
        EX + "scaling.check_minibatch_loglik",
        P("func", None),
        K("x", X2, "data", paired=True),
        K("y", Y01, "labels", n=2, paired=True),
        K("w", np.array([0.5, -1.0]), "data", partners=("x",)),
        K("b", 0.2, "real"),
        K("batch_size", 5, "count"),
        K("num_batches", 20, "count"),
        K("seed", 0, "count0"),
    ),
    _c(
        EX + "scaling.check_minibatch_noise_prediction",
        P("answer", None),
        K("x", X2, "data", paired=True),
        K("y", Y01, "labels", n=2, paired=True),
        K("w", np.array([0.5, -1.0]), "data", partners=("x",)),
        K("b", 0.2, "real"),
        K("n_small", 6, "count"),
        K("batch_size", 3, "count"),
    ),
]

# Public functions that are steps inside other public functions, not calls a user makes; the
# function they serve checks the arguments before they get them.
_STAGED = "a step of run_svi after its checks (vibook.infer.staged): "
NOT_USER_FACING = {
    **{
        f"vibook.models.vae.{func}": (
            "the network step inside vae / vae_guide, called with their param pytrees; users call "
            "vibook.autoencoders.encode / decode"
        )
        for func in ("decoder_mean", "encoder_normal")
    },
    "vibook.models.vae.check_vae_args": "the argument check that vae, vae_guide and fit_vae share",
    "vibook.infer.staged.stage_model": _STAGED + "traces the model it was given, under make_jaxpr",
    "vibook.infer.staged.compiled_fit": _STAGED + "takes the FitJob that run_svi built",
    "vibook.infer.staged.eager_fit": _STAGED + "takes the FitJob that run_svi built",
    "vibook.loop.scan_steps": (
        "the lax.scan of a fit's optimisation steps, called inside jit by the fitters with a "
        "traceable step function they built"
    ),
    "vibook.loop.check_finite": (
        "checks the losses a fitter computed; NaN is what it looks for (it raises "
        "SVIDivergenceError by design, not a malformed-input error)"
    ),
    "vibook.infer.psis.log_ratios": (
        "traceable, called inside jit by run_svi and psis_diagnostic with the model, guide "
        "and parameters of their fit"
    ),
    "vibook.infer.psis.smooth": (
        "the shared last step of run_svi and psis_diagnostic on the ratios they computed "
        "(a NaN ratio gives k-hat inf by design); users get k-hat from psis_diagnostic"
    ),
    "vibook.infer.psis.full_data": "takes the **model_kwargs dict that run_svi received",
    "vibook.models.lda.doc_concentrations": (
        "the jitted E-step inside lda_guide and doc_topic_proportions, on arrays they checked"
    ),
    **{
        f"vibook.exercises.feedback.{func}": (
            "a building block of the checkers in vibook.exercises, called with the answer they "
            "got (any object, by design: a wrong answer gets a message) and inputs they checked"
        )
        for func in importlib.import_module("vibook.exercises.feedback").__all__
        if func != "Feedback"
    },
}

# (function, argument, malformation) whose "malformed" value is valid input, with the reason.
_NO_HIDDEN = "no hidden layer is a valid network: Bayesian linear or logistic regression"
_FULL_BATCH = "documented: a batch at least as large as the data is the full batch"
_ONE_D = "1-D data is a mixture of scalars (the ordered 1-D model)"
_COLUMN = "shape (n, 1) is one input column, as the data sets give x (it is read as (n,))"
_WEIGHTS = "compared by cosine, which takes any nonnegative word weights (as topic_similarity says)"
VALID_MALFORMED = {
    **{
        (f"vibook.{func}", "hidden", "empty"): _NO_HIDDEN
        for func in (
            "models.bnn.bnn",
            "models.bnn.bnn_guide",
            "models.bnn.bnn_layer_shapes",
            "models.bnn.check_hidden",
            "models.bnn.prior_function_draws",
            "models.bnn.prior_sds",
            "networks.fit_bnn",
            "baselines.fit_mlp",
            "models.vae.vae",
            "models.vae.vae_guide",
            "models.vae.init_mlp",
            "autoencoders.fit_vae",
        )
    },
    ("vibook.networks.fit_bnn", "batch_size", "too_large"): _FULL_BATCH,
    **{
        ("vibook.autoencoders.decode", "z", shape): (
            "codes of shape (..., L) with L = 1: leading dimensions (draws, images) batch"
        )
        for shape in ("leading_axis", "trailing_axis")
    },
    ("vibook.baselines.fit_mlp", "batch_size", "too_large"): _FULL_BATCH,
    ("vibook.models.gmm.gmm", "x", "flattened"): _ONE_D,
    ("vibook.mixtures.gmm_init_values", "x", "flattened"): _ONE_D,
    ("vibook.topic_scores.topic_similarity", "topics_a", "above_1"): _WEIGHTS,
    ("vibook.topic_scores.topic_similarity", "topics_b", "above_1"): _WEIGHTS,
    ("vibook.topic_scores.topic_recovery", "true_topics", "above_1"): _WEIGHTS,
    ("vibook.topic_scores.topic_recovery", "topics", "above_1"): _WEIGHTS,
    **{
        (f"vibook.plots.{func}", arg, "trailing_axis"): _COLUMN
        for func, arg in (
            ("plot_regression_uncertainty", "x"),
            ("plot_regression_uncertainty", "x_data"),
            ("plot_regression_uncertainty", "y_data"),
            ("plot_function_draws", "x"),
        )
    },
    ("vibook.plots.plot_marginal_overlay", "fits", "one_fit"): (
        "an overlay of one posterior is its histogram (fits must hold at least one)"
    ),
    ("vibook.plots.plot_divergences", "y_coords", "empty"): (
        "y_var 'tau' is a scalar: an empty selection is no selection, like None"
    ),
    ("vibook.fit.khat_reading", "khat", "NaN"): (
        "documented: NaN is the k-hat of a point-mass guide, read as 'undefined'"
    ),
    ("vibook.fit.khat_reading", "khat", "inf"): (
        "smooth gives k-hat inf when a ratio is NaN or infinite, read as 'do not trust'"
    ),
}


def _module_functions(module) -> list[str]:
    """The names a module makes public: its ``__all__``, else its own public functions."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(obj)
        and obj.__module__ == module.__name__
    ]


def public_functions() -> dict[str, Any]:
    """Every public function (not class) of vibook's public modules, by full name."""
    modules = ["vibook", "vibook.models"] + [
        m.name
        for m in pkgutil.walk_packages(vibook.__path__, "vibook.")
        if not any(part.startswith("_") for part in m.name.split("."))
    ]
    found = {}
    for name in modules:
        module = importlib.import_module(name)
        for attr in _module_functions(module):
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
    with case.around() if case.around else contextlib.nullcontext():
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


# Inputs that vibook does not yet refuse with a clear error, by (function, argument): each
# is a defect to fix, shown as an expected failure (xfail) until it is. Once a case passes,
# remove its entry.
KNOWN_GAPS: dict[tuple[str, str], str] = {}
