"""Plot helpers: each draws on ``ax`` (a new figure's Axes when None) and returns that Axes.

The numbers come from tested functions elsewhere in vibook; these only draw them.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from vibook._checks import (
    check_array,
    check_bool,
    check_mixture,
    check_panel,
    check_positive_int,
    check_real,
)
from vibook.diagnostics import select_scalar
from vibook.fit import as_datatree
from vibook.metrics import calibration_bins, expected_calibration_error

__all__ = [
    "plot_coin_posterior",
    "plot_divergences",
    "plot_elbo_panel",
    "plot_function_draws",
    "plot_image_row",
    "plot_kl_fits",
    "plot_learning_curves",
    "plot_marginal_overlay",
    "plot_mixture_2d",
    "plot_regression_uncertainty",
    "plot_reliability",
]


def _rows(values, name: str, x, x_name: str = "x"):
    """``values`` as a 2-D array with one column per entry of ``x`` (one row for 1-D)."""
    values = np.atleast_2d(check_array(values, name, ndim=(1, 2)))
    if values.shape[1] != len(x):
        raise ValueError(f"{name} must have one column per entry of {x_name} ({len(x)})")
    return values


def _column(values, name: str) -> np.ndarray:
    """A 1-D array from values of shape (n,) or (n, 1) (one input, as the data sets give it)."""
    values = check_array(values, name, ndim=(1, 2))
    if values.ndim == 2 and values.shape[1] != 1:
        raise ValueError(f"{name} must have shape (n,) or (n, 1); got {values.shape}")
    return values.ravel()


def _axes(ax):
    """Use ``ax`` or a fresh figure's axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


def plot_coin_posterior(panel: dict, ax=None):
    """Draw prior, likelihood and posterior of a coin's bias from :func:`coin_grid_posterior`.

    Parameters
    ----------
    panel : dict
        The result of :func:`vibook.models.coin_grid_posterior`.
    ax : matplotlib Axes, optional
    """
    ax = _axes(ax)
    keys = ("theta", "prior", "likelihood", "posterior", "posterior_mean")
    panel = check_panel(panel, "panel", keys)
    theta = panel["theta"]
    ax.plot(theta, panel["prior"], color="tab:blue", ls="--", label="prior")
    ax.plot(theta, panel["likelihood"], color="tab:gray", ls=":", label="likelihood (scaled)")
    ax.plot(theta, panel["posterior"], color="tab:red", lw=2, label="posterior")
    ax.axvline(panel["posterior_mean"], color="tab:red", lw=0.8, alpha=0.6)
    top = max(np.max(panel["posterior"]), np.max(panel["likelihood"]))
    ax.set(xlim=(0, 1), ylim=(0, 1.1 * top), xlabel=r"coin bias $\theta$", ylabel="density")
    ax.legend(loc="upper left", frameon=False)
    return ax


# --- posterior overlays and divergences (VI vs MCMC) ---


def plot_marginal_overlay(fits, var_name, *, coords=None, reference=None, bins=60, ax=None):
    """Overlay one scalar's posterior marginal from several fits (NUTS, SVI, ...) on one axes.

    Each fit's draws are drawn as a density histogram outline on shared bins spanning the central
    99% of the reference's draws.

    Parameters
    ----------
    fits : mapping of str to DataTree or SVIFit
        Posteriors by method name, as for :func:`vibook.diagnostics.compare_posteriors`.
    var_name : str
    coords : dict, optional
        Selection down to one scalar, for example ``{"school": 0}``.
    reference : str, optional
        The key whose draws set the bins and are drawn filled; the first by default.
    bins : int
    ax : matplotlib Axes, optional
    """
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError(f"fits must be a non-empty dict of name to posterior; got {fits!r:.60}")
    trees = {k: as_datatree(v, f"fits[{k!r}]") for k, v in fits.items()}
    reference = next(iter(trees)) if reference is None else reference
    bins = check_positive_int(bins, "bins")
    if not isinstance(reference, str) or reference not in trees:
        raise ValueError(f"reference must be one of {list(trees)}; got {reference!r}")
    draws = {
        k: np.ravel(select_scalar(t["posterior"].to_dataset(), var_name, coords).values)
        for k, t in trees.items()
    }
    edges = np.linspace(*np.quantile(draws[reference], [0.005, 0.995]), bins + 1)
    ax = _axes(ax)
    for k, x in draws.items():
        if k == reference:
            kw = dict(histtype="stepfilled", alpha=0.25, color="k")
        else:
            kw = dict(histtype="step", lw=1.5)
        ax.hist(x, bins=edges, density=True, label=k, **kw)
    label = var_name + (f"{list(coords.values())}" if coords else "")
    ax.set(xlabel=label, ylabel="density")
    ax.legend(frameon=False)
    return ax


def plot_divergences(idata, x_var, y_var, *, x_coords=None, y_coords=None, log_y=False, ax=None):
    """Scatter two scalars' draws with the divergent transitions in red: where NUTS failed.

    In a hierarchical model, a group effect against ``log tau`` shows the funnel, and divergences
    piling up at its neck.

    Parameters
    ----------
    idata : xarray.DataTree
        A :func:`vibook.run_nuts` result.
    x_var, y_var : str
        Variables on the two axes.
    x_coords, y_coords : dict, optional
        Selections down to one scalar each.
    log_y : bool
        Plot ``log(y)`` (for a scale parameter such as ``tau``).
    ax : matplotlib Axes, optional
    """
    idata = as_datatree(idata, "idata")
    post = idata["posterior"].to_dataset()
    x, y = (
        np.ravel(select_scalar(post, v, c, names=n).transpose("chain", "draw").values)
        for v, c, n in (
            (x_var, x_coords, ("x_var", "x_coords")),
            (y_var, y_coords, ("y_var", "y_coords")),
        )
    )
    if check_bool(log_y, "log_y"):
        y = np.log(y)
    div = np.zeros(x.shape, dtype=bool)
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        div = np.ravel(idata["sample_stats"]["diverging"].transpose("chain", "draw").values)
    ax = _axes(ax)
    ax.scatter(x[~div], y[~div], s=4, alpha=0.3, color="0.3", label="draws")
    ax.scatter(x[div], y[div], s=12, color="red", label=f"divergent ({div.sum()})")
    x_label = x_var + (f"{list(x_coords.values())}" if x_coords else "")
    y_label = y_var + (f"{list(y_coords.values())}" if y_coords else "")
    ax.set(xlabel=x_label, ylabel=f"log {y_label}" if log_y else y_label)
    ax.legend(frameon=False)
    return ax


# --- Bayesian neural networks: predictive bands, reliability diagrams, function draws ---


def plot_regression_uncertainty(
    x, mean_draws, sigma=None, *, x_data=None, y_data=None, gap=None, ax=None, title=None
):
    """Posterior mean of a 1-D regression with +-2 sd bands: epistemic, and total with noise.

    Parameters
    ----------
    x : array of shape (n,)
        Grid of inputs.
    mean_draws : array of shape (n_draws, n)
        The regression function under each posterior draw (one row for a point estimate).
    sigma : array of shape (n_draws,) or float, optional
        Noise sd; adds the lighter total-uncertainty band.
    x_data, y_data : arrays of shape (n_data,), optional
        Training points.
    gap : tuple of float, optional
        An input interval without data, shaded.
    ax : matplotlib Axes, optional
    title : str, optional
    """
    x = _column(x, "x")
    f = _rows(mean_draws, "mean_draws", x)
    mu, sd = f.mean(0), f.std(0)
    ax = _axes(ax)
    if sigma is not None:
        sigma = check_array(sigma, "sigma", shape=() if np.ndim(sigma) == 0 else (len(f),))
        if np.any(sigma <= 0):
            raise ValueError("sigma (the noise sd) must be > 0")
        total = np.sqrt(sd**2 + np.mean(sigma**2))
        ax.fill_between(
            x,
            mu - 2 * total,
            mu + 2 * total,
            color="tab:blue",
            alpha=0.15,
            label="+-2 sd, with noise",
        )
    ax.fill_between(
        x, mu - 2 * sd, mu + 2 * sd, color="tab:blue", alpha=0.35, label="+-2 sd, epistemic"
    )
    ax.plot(x, mu, color="tab:blue", lw=1.5, label="predictive mean")
    if gap is not None:
        ax.axvspan(*gap, color="0.9", zorder=0)
    if x_data is not None or y_data is not None:
        x_data, y_data = _column(x_data, "x_data"), _column(y_data, "y_data")
        if y_data.shape != x_data.shape:
            raise ValueError(f"y_data must have one value per point of x_data ({len(x_data)})")
        ax.plot(x_data, y_data, "k.", ms=4, label="data")
    if title:
        ax.set_title(title)
    ax.set(xlabel="x", ylabel="y")
    return ax


def plot_reliability(probs, y, *, n_bins: int = 15, ax=None, label=None):
    """Reliability diagram: accuracy against confidence per bin, with the diagonal.

    Bars below the diagonal mean overconfidence, above it underconfidence (Guo et al. 2017); the
    numbers come from :func:`vibook.metrics.calibration_bins`, with the same 15 bins as
    :func:`vibook.metrics.expected_calibration_error` by default. Each bar is labelled with how
    many inputs fall in its bin: a bin of three says little.

    Parameters
    ----------
    probs : array of shape (n, n_classes)
        Predictive class probabilities.
    y : array of int of shape (n,)
    n_bins : int
    ax : matplotlib Axes, optional
    label : str, optional
        Title; the ECE is appended.
    """
    ax = _axes(ax)
    bins = calibration_bins(probs, y, n_bins=n_bins)
    centres = 0.5 * (bins["edges"][1:] + bins["edges"][:-1])
    width = bins["edges"][1] - bins["edges"][0]
    acc = np.nan_to_num(bins["accuracy"])
    ax.bar(
        centres,
        acc,
        width=width,
        edgecolor="k",
        color="tab:blue",
        alpha=0.7,
        label="accuracy in the bin",
    )
    # The gap, from the accuracy to the mean confidence, is hatched: the accuracy shows through.
    conf = np.nan_to_num(bins["confidence"])
    low, high = np.minimum(acc, conf), np.maximum(acc, conf)
    ax.bar(
        centres,
        high - low,
        bottom=low,
        width=width,
        facecolor="none",
        edgecolor="tab:red",
        hatch="///",
        lw=0.8,
        label="gap to the mean confidence",
    )
    for c, a, count in zip(centres, acc, bins["count"], strict=True):
        if count:
            ax.annotate(
                f"{count}",
                (c, min(a, 0.92)),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ece = expected_calibration_error(probs, y, n_bins=n_bins)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence (bin of the top class probability)",
        ylabel="accuracy",
        title=f"{label + ': ' if label else ''}ECE = {ece:.3f} ({n_bins} bins)",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.75), fontsize=7)
    return ax


def plot_function_draws(x, draws, *, ax=None, title=None, max_lines: int = 30):
    """Draw a set of functions of one input (prior or posterior draws) as thin lines.

    Parameters
    ----------
    x : array of shape (n,)
    draws : array of shape (n_draws, n)
    ax : matplotlib Axes, optional
    title : str, optional
    max_lines : int
        At most this many draws are drawn.
    """
    x = _column(x, "x")
    draws, max_lines = _rows(draws, "draws", x), check_positive_int(max_lines, "max_lines")
    ax = _axes(ax)
    for row in draws[:max_lines]:
        ax.plot(x, row, lw=0.8, alpha=0.7)
    if title:
        ax.set_title(title)
    ax.set(xlabel="x", ylabel="f(x)")
    return ax


def plot_learning_curves(n_labels, accuracy, *, ax=None, target=None):
    """Accuracy against number of labels, mean over seeds with a band from min to max.

    Parameters
    ----------
    n_labels : array of shape (n_rounds,)
        Labels after each round (the same for every curve).
    accuracy : dict of str to array of shape (n_seeds, n_rounds)
        Test accuracy per acquisition function and seed.
    ax : matplotlib Axes, optional
    target : float, optional
        A horizontal reference line (e.g. 0.95).
    """
    n = check_array(n_labels, "n_labels", ndim=1, integer=True, nonnegative=True)
    if not isinstance(accuracy, dict) or not accuracy:
        raise TypeError(f"accuracy must be a non-empty dict of name to array; got {accuracy!r:.60}")
    if target is not None and not 0 <= check_real(target, "target") <= 1:
        raise ValueError(f"target must be an accuracy in [0, 1]; got {target}")
    ax = _axes(ax)
    for name, acc in accuracy.items():
        acc = _rows(acc, f"accuracy[{name!r}]", n, "n_labels")
        if np.any((acc < 0) | (acc > 1)):
            raise ValueError(f"accuracy[{name!r}] must lie in [0, 1]")
        (line,) = ax.plot(n, acc.mean(0), lw=2, label=name)
        ax.fill_between(n, acc.min(0), acc.max(0), color=line.get_color(), alpha=0.2, lw=0)
    if target is not None:
        ax.axhline(target, color="k", lw=0.8, ls=":")
    ax.set(xlabel="labelled points", ylabel="test accuracy")
    ax.legend(frameon=False, loc="lower right")
    return ax


def plot_image_row(images, *, titles=None, shape=(8, 8), ax=None):
    """Small grey-scale images side by side in one Axes, each with a title above it.

    Parameters
    ----------
    images : array of shape (n, height * width)
        Flattened images (e.g. the 8x8 digits).
    titles : sequence of str, optional
        One per image.
    shape : tuple of int
        ``(height, width)`` of one image.
    ax : matplotlib Axes, optional
    """
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise TypeError(f"shape must be a tuple (height, width); got {shape!r}")
    h, w = (check_positive_int(v, "shape") for v in shape)
    images = np.atleast_2d(check_array(images, "images", ndim=(1, 2)))
    images = check_array(images, "images", shape=(None, h * w)).reshape(-1, h, w).astype(float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 * len(images), 1.4))
    strip = np.full((h, len(images) * (w + 1) - 1), np.nan)
    for i, im in enumerate(images):
        strip[:, i * (w + 1) : i * (w + 1) + w] = im
    ax.imshow(strip, cmap="gray_r", interpolation="nearest")
    for i, title in enumerate(titles or []):
        ax.text(i * (w + 1) + (w - 1) / 2, -1, title, ha="center", va="bottom", fontsize=8)
    ax.set_axis_off()
    return ax


# --- Mixtures, KL and the ELBO (notebooks 02-05) ---


def plot_mixture_2d(x, weights, locs, covariances, *, labels=None, ax=None, title=None):
    """Scatter 2-D points with each cluster's 2-sd ellipse, line width growing with its weight.

    Parameters
    ----------
    x : array of shape (n, 2)
    weights : array of shape (K,)
        Mixture weights; clusters with weight below 1% are drawn dashed.
    locs, covariances : array of shape (K, 2) and (K, 2, 2)
        Cluster means and covariances.
    labels : array of shape (n,), optional
        Colour of each point (for example its most probable cluster).
    ax : matplotlib Axes, optional
    title : str, optional
    """
    x = check_array(x, "x", shape=(None, 2))
    weights, locs, _, chol = check_mixture(weights, locs, covariances, 2, means_name="locs")
    if labels is not None:
        labels = check_array(labels, "labels", shape=(len(x),), integer=True, nonnegative=True)
    ax = _axes(ax)
    if labels is None:
        ax.scatter(x[:, 0], x[:, 1], s=8, alpha=0.5, label="points")
    else:
        for k in np.unique(labels):
            ax.scatter(
                *x[labels == k].T,
                s=8,
                alpha=0.5,
                color=plt.cm.tab10(k % 10),
                label=f"points labelled {k}",
            )
    t = np.linspace(0, 2 * np.pi, 100)
    circle = np.stack([np.cos(t), np.sin(t)])
    for k, (w_k, m, c) in enumerate(zip(weights, locs, chol, strict=True)):
        pts = m[:, None] + 2 * c @ circle
        label = "2-sd ellipse (width grows with weight)" if k == 0 else None
        ax.plot(
            pts[0],
            pts[1],
            color="k",
            lw=0.5 + 4 * w_k,
            ls="-" if w_k >= 0.01 else "--",
            label=label,
        )
        ax.plot(*m, "k+", ms=8, label="cluster mean" if k == 0 else None)
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_kl_fits(panel: dict, ax=None):
    """Draw a target density and Gaussian fits to it, from :func:`vibook.panels.kl_panel`."""
    panel = check_panel(panel, "panel", ("grid", "p", "q"))
    ax = _axes(ax)
    ax.plot(panel["grid"], panel["p"], color="k", lw=2, label="target p")
    ax.plot(panel["grid"], panel["q"], color="tab:red", label="q")
    ax.fill_between(panel["grid"], panel["q"], color="tab:red", alpha=0.15)
    ax.set(xlabel="z", ylabel="density")
    ax.legend(frameon=False)
    return ax


def plot_elbo_panel(panel: dict, ax=None):
    """Draw the exact posterior and a Gaussian q, from :func:`vibook.panels.elbo_panel`."""
    panel = check_panel(panel, "panel", ("grid", "posterior", "q"))
    ax = _axes(ax)
    ax.plot(panel["grid"], panel["posterior"], color="k", lw=2, label="exact posterior")
    ax.plot(panel["grid"], panel["q"], color="tab:red", label="q")
    ax.set(xlabel=r"$\mu$", ylabel="density")
    ax.legend(frameon=False)
    return ax
