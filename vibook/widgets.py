"""Widgets: the ipywidgets wiring over the pure panel functions of :mod:`vibook.panels`.

Each widget calls one function that computes everything it shows (tested without a browser),
then draws it. The readout is an ``ipywidgets.HTML`` with the CSS class ``vibook-readout``.
Sliders whose redraw refits something (the mixture explorer) or draws many networks (the BNN
prior explorer) redraw when released (``continuous_update=False``), not on every drag event;
the closed-form coin and ELBO panels follow the drag.
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
from IPython.display import display

from vibook.models.conjugate import coin_grid_posterior
from vibook.panels import (
    bnn_prior_panel,
    bnn_prior_readout,
    coin_readout,
    elbo_panel,
    elbo_readout,
    mixture_occupancy,
)
from vibook.plots import plot_coin_posterior, plot_elbo_panel, plot_function_draws, plot_mixture_2d

__all__ = ["bnn_prior_explorer", "coin_flip_explorer", "elbo_explorer", "mixture_explorer"]


def _show(fig) -> None:
    """Show ``fig`` in the current output (a widget's ``Output``) and free it.

    ``display`` works under every backend (inline, widget, Agg); the figure is closed so that
    moving a slider a hundred times does not keep a hundred figures alive.
    """
    display(fig)
    plt.close(fig)


def coin_flip_explorer(
    *, a: float = 2.0, b: float = 2.0, heads: int = 7, tails: int = 3, prior: str = "beta"
) -> w.VBox:
    """A control panel for Bayes' theorem on a coin: prior, data, posterior and evidence.

    Move the prior's parameters or the observed counts and the prior, the (scaled)
    likelihood and the posterior are redrawn, with the posterior mean, sd and log evidence.

    Parameters
    ----------
    a, b : float
        Initial ``Beta(a, b)`` prior parameters. The logit-normal prior has its own sliders,
        ``logit loc`` and ``logit scale`` (a Normal on the log-odds).
    heads, tails : int
        Initial observed counts.
    prior : {"beta", "logit-normal"}
        Initial prior family.

    Returns
    -------
    ipywidgets.VBox
        The panel; display it in a notebook.
    """
    style = {"description_width": "90px"}
    family = w.ToggleButtons(
        options=[("Beta (conjugate)", "beta"), ("logit-normal", "logit-normal")],
        value=prior,
        description="prior",
        style=style,
    )
    a_s = w.FloatSlider(
        value=a,
        min=0.5,
        max=20,
        step=0.5,
        description="prior a",
        style=style,
    )
    b_s = w.FloatSlider(
        value=b,
        min=0.5,
        max=20,
        step=0.5,
        description="prior b",
        style=style,
    )
    loc_s = w.FloatSlider(
        value=0.0,
        min=-3,
        max=3,
        step=0.1,
        description="logit loc",
        style=style,
    )
    scale_s = w.FloatSlider(
        value=1.5,
        min=0.1,
        max=5,
        step=0.1,
        description="logit scale",
        style=style,
    )
    heads_s = w.IntSlider(value=heads, min=0, max=100, description="heads", style=style)
    tails_s = w.IntSlider(value=tails, min=0, max=100, description="tails", style=style)
    readout = w.HTML()
    readout.add_class("vibook-readout")
    out = w.Output()

    def redraw(*_):
        panel = coin_grid_posterior(
            heads_s.value,
            flips=heads_s.value + tails_s.value,
            prior=family.value,
            a=a_s.value,
            b=b_s.value,
            loc=loc_s.value,
            scale=scale_s.value,
        )
        readout.value = coin_readout(panel)
        beta = family.value == "beta"
        a_s.layout.display = b_s.layout.display = None if beta else "none"
        loc_s.layout.display = scale_s.layout.display = "none" if beta else None
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3.5))
            plot_coin_posterior(panel, ax=ax)
            _show(fig)

    for control in (family, a_s, b_s, loc_s, scale_s, heads_s, tails_s):
        control.observe(redraw, names="value")
    redraw()
    controls = w.HBox([w.VBox([family, a_s, b_s, loc_s, scale_s]), w.VBox([heads_s, tails_s])])
    return w.VBox([controls, readout, out])


# --- Bayesian neural networks: prior explorer ---


def bnn_prior_explorer(
    *, prior_scale: float = 1.0, width: int = 50, activation: str = "tanh"
) -> w.VBox:
    """A control panel for the prior over functions of a one-hidden-layer BNN.

    Move the prior scale, the width or the activation and twenty functions drawn from the
    prior are redrawn, with their sd and mean absolute slope.

    Returns
    -------
    ipywidgets.VBox
        The panel; display it in a notebook.
    """
    style = {"description_width": "90px"}
    scale_s = w.FloatLogSlider(
        continuous_update=False,
        value=prior_scale,
        base=10,
        min=-1,
        max=1,
        step=0.05,
        description="prior scale",
        style=style,
    )
    width_s = w.IntSlider(
        continuous_update=False, value=width, min=1, max=200, description="width", style=style
    )
    act = w.Dropdown(
        options=["tanh", "relu", "sin", "gelu"],
        value=activation,
        description="activation",
        style=style,
    )
    readout = w.HTML()
    readout.add_class("vibook-readout")
    out = w.Output()

    def redraw(*_):
        panel = bnn_prior_panel(
            prior_scale=scale_s.value, width=width_s.value, activation=act.value
        )
        readout.value = bnn_prior_readout(panel)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3.2))
            plot_function_draws(panel["x"], panel["draws"], ax=ax, title="draws from the prior")
            _show(fig)

    for c in (scale_s, width_s, act):
        c.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([scale_s, width_s, act]), readout, out])


# --- Mixtures, KL and the ELBO (notebooks 02 and 03) ---


def mixture_explorer(x, *, n_components: int = 6, concentration: float = 0.01) -> w.VBox:
    """Sliders for the number of clusters and the Dirichlet concentration of a 2-D mixture.

    Each change refits :func:`mixture_occupancy` and redraws the clusters (2-sd ellipses,
    thicker for heavier clusters, dashed when nearly empty).
    """
    k_s = w.IntSlider(
        continuous_update=False, value=n_components, min=1, max=10, description="components"
    )
    c_s = w.FloatLogSlider(
        continuous_update=False,
        value=concentration,
        base=10,
        min=-4,
        max=3,
        description="concentration",
    )
    readout = w.HTML()
    readout.add_class("vibook-readout")
    out = w.Output()

    def redraw(*_):
        panel = mixture_occupancy(x, n_components=k_s.value, concentration=c_s.value)
        weights = ", ".join(f"{v:.2f}" for v in sorted(panel["weights"], reverse=True))
        readout.value = f"clusters used: {panel['n_used']} of {k_s.value}; weights: {weights}"
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(5, 4))
            plot_mixture_2d(
                x,
                panel["weights"],
                panel["locs"],
                panel["covariances"],
                labels=panel["labels"],
                ax=ax,
            )
            _show(fig)

    k_s.observe(redraw, names="value")
    c_s.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([k_s, c_s]), readout, out])


def elbo_explorer(x, *, q_loc: float = 0.0, q_scale: float = 0.5) -> w.VBox:
    """Move a Gaussian ``q`` over the Normal-Normal posterior and watch ELBO and KL trade off.

    The readout shows that ``ELBO + KL`` stays equal to the log evidence however ``q`` moves;
    the ELBO touches it only when ``q`` is the exact posterior.
    """
    loc_s = w.FloatSlider(value=q_loc, min=-3, max=3, step=0.01, description="q mean")
    scale_s = w.FloatLogSlider(value=q_scale, base=10, min=-2, max=0.5, description="q sd")
    readout = w.HTML()
    readout.add_class("vibook-readout")
    out = w.Output()

    def redraw(*_):

        panel = elbo_panel(x, loc_s.value, scale_s.value)
        readout.value = elbo_readout(panel)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3.5))
            plot_elbo_panel(panel, ax=ax)
            _show(fig)

    loc_s.observe(redraw, names="value")
    scale_s.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([loc_s, scale_s]), readout, out])
