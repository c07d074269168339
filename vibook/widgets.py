"""Widgets: the ipywidgets wiring over the pure panel functions of :mod:`vibook.panels`.

Each widget draws what one panel function computes; its readout is an ``ipywidgets.HTML`` of CSS
class ``vibook-readout``. Every slider redraws when it is let go (``continuous_update=False``):
a redraw draws and sends a new figure, 65-150 ms on two cores (``benchmarks/widgets.py``), far
more than a frame, so following the drag would queue redraws behind the hand. The mixture
explorer keeps each fit it made, so a slider moved back to a value redraws without refitting.

Each widget is an ``Explorer``: shown in a kernel it is live; a page rendered without one
(GitHub, nbviewer, an nbconvert or Sphinx export) shows its figure at the initial values.
"""

from __future__ import annotations

import base64
import functools
import io

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from vibook._checks import check_array, check_choice, check_positive_int, check_real
from vibook.models.bnn import ACTIVATIONS
from vibook.models.conjugate import coin_grid_posterior
from vibook.models.hierarchical import TAU_PRIORS
from vibook.panels import (
    bnn_prior_panel,
    bnn_prior_readout,
    coin_readout,
    elbo_panel,
    elbo_readout,
    mixture_occupancy,
    tau_prior_panel,
    tau_prior_readout,
)
from vibook.plots import plot_coin_posterior, plot_elbo_panel, plot_function_draws, plot_mixture_2d

__all__ = [
    "bnn_prior_explorer",
    "coin_flip_explorer",
    "elbo_explorer",
    "mixture_explorer",
    "tau_prior_explorer",
]


STYLE = {"description_width": "90px"}
STATIC_DPI = 100  # the static figure is figsize * STATIC_DPI pixels


class Explorer(w.VBox):
    """The box every widget here returns: live in a kernel, a still figure on a static page.

    Its display bundle is ipywidgets' widget view (which JupyterLab, Notebook, VS Code and Colab
    render live) with ``image/png``, the figure drawn at the initial values, and ``text/plain``,
    a one-line description: what a renderer without a kernel or widget state shows instead.

    Parameters
    ----------
    children : sequence of widgets
        The controls, the readout and the plot's ``Output``.
    summary : str
        The ``text/plain`` description.
    png : bytes, optional
        The initial figure as PNG; without it the bundle has no ``image/png``.
    """

    def __init__(self, children, *, summary: str, png: bytes | None = None):
        super().__init__(children)
        self.summary = summary
        self.png = png

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.summary
        if self.png is not None:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle


def _png(fig) -> bytes:
    """``fig`` laid out tight, as PNG bytes of exactly ``figsize * STATIC_DPI`` pixels."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=STATIC_DPI)
    return buf.getvalue()


def _show(fig) -> None:
    """Show ``fig`` in the current output (a widget's ``Output``) and close it.

    ``display`` works under every backend; closing it keeps slider moves from piling up figures.
    """
    display(fig)
    plt.close(fig)


def _slider(name, value, lo, hi, *, label, step=None, integer=False, log=False):
    """A slider for the argument ``name``, starting at ``value``, that redraws on release.

    Off-range values are refused (a slider would clip them); ``log`` spans ``10**lo..10**hi``.
    """
    value = check_positive_int(value, name, minimum=0) if integer else check_real(value, name)
    bounds = (10.0**lo, 10.0**hi) if log else (lo, hi)
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} must be in [{bounds[0]:g}, {bounds[1]:g}]; got {value}")
    cls = w.IntSlider if integer else w.FloatLogSlider if log else w.FloatSlider
    kw = {"base": 10} if log else {}
    kw.update({} if step is None else {"step": step})
    return cls(
        value=value, min=lo, max=hi, description=label, continuous_update=False, style=STYLE, **kw
    )


def _panel(name, controls, layout, figsize, compute, readout_of, draw) -> Explorer:
    """Wire ``controls`` to one redraw and return ``layout`` above the readout and the plot.

    Each redraw calls ``compute()`` for a panel, shows ``readout_of(panel)`` and calls
    ``draw(panel, ax)`` on a fresh figure. The first figure is kept as the static one.
    """
    readout = w.HTML()
    readout.add_class("vibook-readout")
    out = w.Output()
    first = []

    def redraw(*_):
        panel = compute()
        readout.value = readout_of(panel)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=figsize)
            draw(panel, ax)
            _show(fig)
        if not first:  # drawn and sent already: laying it out again changes no live figure
            first.append(_png(fig))

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    summary = f"{name} (interactive: {', '.join(c.description for c in controls)})"
    return Explorer([layout, readout, out], summary=summary, png=first[0])


def coin_flip_explorer(
    *, a: float = 2.0, b: float = 2.0, heads: int = 7, tails: int = 3, prior: str = "beta"
) -> Explorer:
    """A control panel for Bayes' theorem on a coin: prior, data, posterior and evidence.

    Moving the prior's parameters or the counts redraws the prior, the (scaled) likelihood and the
    posterior, with the posterior mean, sd and log evidence.

    Parameters
    ----------
    a, b : float
        Initial ``Beta(a, b)`` prior parameters, in [0.5, 20]. The logit-normal prior has its
        own sliders, ``logit loc`` and ``logit scale`` (a Normal on the log-odds).
    heads, tails : int
        Initial observed counts, in 0..100.
    prior : {"beta", "logit-normal"}
        Initial prior family.
    """
    family = w.ToggleButtons(
        options=[("Beta (conjugate)", "beta"), ("logit-normal", "logit-normal")],
        value=check_choice(prior, "prior", ("beta", "logit-normal")),
        description="prior",
        style=STYLE,
    )
    a_s = _slider("a", a, 0.5, 20, step=0.5, label="prior a")
    b_s = _slider("b", b, 0.5, 20, step=0.5, label="prior b")
    loc_s = _slider("loc", 0.0, -3, 3, step=0.1, label="logit loc")
    scale_s = _slider("scale", 1.5, 0.1, 5, step=0.1, label="logit scale")
    heads_s = _slider("heads", heads, 0, 100, integer=True, label="heads")
    tails_s = _slider("tails", tails, 0, 100, integer=True, label="tails")

    def compute():
        beta = family.value == "beta"
        a_s.layout.display = b_s.layout.display = None if beta else "none"
        loc_s.layout.display = scale_s.layout.display = "none" if beta else None
        return coin_grid_posterior(
            heads_s.value,
            flips=heads_s.value + tails_s.value,
            prior=family.value,
            a=a_s.value,
            b=b_s.value,
            loc=loc_s.value,
            scale=scale_s.value,
        )

    controls = (family, a_s, b_s, loc_s, scale_s, heads_s, tails_s)
    layout = w.HBox([w.VBox([family, a_s, b_s, loc_s, scale_s]), w.VBox([heads_s, tails_s])])
    return _panel(
        "coin flip explorer",
        controls,
        layout,
        (6, 3.5),
        compute,
        coin_readout,
        lambda p, ax: plot_coin_posterior(p, ax=ax),
    )


def bnn_prior_explorer(
    *, prior_scale: float = 1.0, width: int = 50, activation: str = "tanh"
) -> Explorer:
    """A control panel for the prior over functions of a one-hidden-layer BNN.

    Moving the prior scale (0.1-10), the width (1-200) or the activation redraws twenty functions
    drawn from the prior, with their sd and mean absolute slope.
    """
    scale_s = _slider("prior_scale", prior_scale, -1, 1, step=0.05, log=True, label="prior scale")
    width_s = _slider("width", width, 1, 200, integer=True, label="width")
    act = w.Dropdown(
        options=list(ACTIVATIONS),
        value=check_choice(activation, "activation", ACTIVATIONS),
        description="activation",
        style=STYLE,
    )

    def draw(panel, ax):
        plot_function_draws(panel["x"], panel["draws"], ax=ax, title="draws from the prior")

    def compute():
        return bnn_prior_panel(prior_scale=scale_s.value, width=width_s.value, activation=act.value)

    controls = (scale_s, width_s, act)
    return _panel(
        "BNN prior explorer", controls, w.HBox(controls), (6, 3.2), compute, bnn_prior_readout, draw
    )


def mixture_explorer(x, *, n_components: int = 6, concentration: float = 0.01) -> Explorer:
    """Sliders for the clusters (1-10) and the Dirichlet concentration (1e-4 to 1e3) of a mixture.

    Each change refits :func:`mixture_occupancy` and redraws the clusters (2-sd ellipses,
    thicker for heavier clusters, dashed when nearly empty). Each fit is kept (by slider
    values), so a slider moved back to a value it had shows the same fit without refitting.
    """
    x = check_array(x, "x", shape=(None, 2))
    k_s = _slider("n_components", n_components, 1, 10, integer=True, label="components")
    c_s = _slider("concentration", concentration, -4, 3, log=True, label="concentration")
    fit = functools.lru_cache(maxsize=256)(
        lambda k, c: mixture_occupancy(x, n_components=k, concentration=c)
    )

    def compute():
        return fit(k_s.value, c_s.value)

    def readout_of(panel):
        weights = ", ".join(f"{v:.2f}" for v in sorted(panel["weights"], reverse=True))
        return f"clusters used: {panel['n_used']} of {k_s.value}; weights: {weights}"

    def draw(panel, ax):
        plot_mixture_2d(
            x, panel["weights"], panel["locs"], panel["covariances"], labels=panel["labels"], ax=ax
        )

    controls = (k_s, c_s)
    return _panel("mixture explorer", controls, w.HBox(controls), (5, 4), compute, readout_of, draw)


def elbo_explorer(x, *, q_loc: float = 0.0, q_scale: float = 0.5) -> Explorer:
    """Move a Gaussian ``q`` over the Normal-Normal posterior and watch ELBO and KL trade off.

    The readout shows ``ELBO + KL`` equal to the log evidence however ``q`` moves; the ELBO touches
    it only at the exact posterior. ``q_loc`` starts in [-3, 3], ``q_scale`` in [0.01, 3.16].
    """
    x = check_array(x, "x", ndim=1)
    loc_s = _slider("q_loc", q_loc, -3, 3, step=0.01, label="q mean")
    scale_s = _slider("q_scale", q_scale, -2, 0.5, log=True, label="q sd")

    def compute():
        return elbo_panel(x, loc_s.value, scale_s.value)

    return _panel(
        "ELBO explorer",
        (loc_s, scale_s),
        w.HBox([loc_s, scale_s]),
        (6, 3.5),
        compute,
        elbo_readout,
        lambda p, ax: plot_elbo_panel(p, ax=ax),
    )


_TAU_PRIOR_NAMES = {
    "half_cauchy": "half-Cauchy",
    "half_normal": "half-normal",
    "uniform": "uniform",
}
# The tau axis: at most 0.4% of the posterior lies above it, under every prior offered.
_TAU_SHOWN = 30.0


def _tau_prior_label(tau_prior: str, tau_scale: float) -> str:
    name = _TAU_PRIOR_NAMES[tau_prior]
    return f"{name}(0, {tau_scale:.3g})" if tau_prior == "uniform" else f"{name}({tau_scale:.3g})"


def _draw_tau(panel, ax, nuts_tau, nuts_label):
    """Prior and exact posterior of tau from :func:`tau_prior_panel`, over NUTS draws if any."""
    if nuts_tau is not None:
        bins = np.linspace(0.0, _TAU_SHOWN, 61)
        # Weights make the bars a density of all the draws, those beyond the axis included.
        weights = np.full(nuts_tau.shape, 1 / (nuts_tau.size * (bins[1] - bins[0])))
        heights, _, _ = ax.hist(
            nuts_tau, bins=bins, weights=weights, color="0.82", label=nuts_label
        )
    prior = _tau_prior_label(panel["tau_prior"], panel["tau_scale"])
    tau, dens = panel["tau"], {k: panel[k] for k in ("prior", "posterior")}
    if tau[-1] < _TAU_SHOWN:  # the grid ends where both densities are 0: draw the drop to 0
        tau = np.append(tau, [tau[-1], _TAU_SHOWN])
        dens = {k: np.append(v, [0.0, 0.0]) for k, v in dens.items()}
    ax.plot(tau, dens["prior"], color="tab:blue", ls="--", label=f"prior: {prior}")
    ax.plot(tau, dens["posterior"], color="tab:red", lw=2, label="exact posterior")
    ax.axvline(panel["posterior_mean"], color="tab:red", lw=0.8, alpha=0.6, label="posterior mean")
    shown = panel["tau"] <= _TAU_SHOWN
    top = max(panel["posterior"].max(), panel["prior"][shown].max())
    if nuts_tau is not None:  # the bars stay within the axes when the prior moves the curves
        top = max(top, heights.max())
    ax.set(
        xlim=(0.0, _TAU_SHOWN),
        ylim=(0.0, 1.1 * top),
        xlabel=r"population scale $\tau$",
        ylabel="density",
        title=f"eight schools: $p(\\tau \\mid y)$ under a {prior} prior",
    )
    ax.legend(loc="upper right", frameon=False)
    ax.figure.tight_layout()


def tau_prior_explorer(
    *, tau_prior: str = "half_cauchy", tau_scale: float = 5.0, nuts_tau=None
) -> Explorer:
    """How the prior on eight schools' population scale ``tau`` moves its exact posterior.

    Switching the prior family or moving its scale (0.32-100) redraws the prior and the exact
    marginal posterior of ``tau`` (:func:`vibook.panels.tau_prior_panel`), with the posterior
    mean, 90% interval and ``P(tau < 5)``.

    Parameters
    ----------
    tau_prior : {"half_cauchy", "half_normal", "uniform"}
        Initial prior family.
    tau_scale : float
        Initial prior scale, in [0.316, 100].
    nuts_tau : array of shape (n_draws,), optional
        Draws of ``tau`` from NUTS (all chains, flattened) under the *initial* prior, drawn as
        a grey histogram for reference; it stays put while the prior changes.
    """
    family = w.ToggleButtons(
        options=[(_TAU_PRIOR_NAMES[p], p) for p in TAU_PRIORS],
        value=check_choice(tau_prior, "tau_prior", TAU_PRIORS),
        description="prior",
        style=STYLE,
    )
    scale_s = _slider("tau_scale", tau_scale, -0.5, 2, step=0.05, log=True, label="prior scale")
    if nuts_tau is not None:
        nuts_tau = check_array(nuts_tau, "nuts_tau", ndim=1, nonnegative=True)
    nuts_label = f"NUTS draws ({_tau_prior_label(family.value, scale_s.value)} prior)"

    def compute():
        return tau_prior_panel(tau_prior=family.value, tau_scale=scale_s.value)

    return _panel(
        "eight-schools tau prior explorer",
        (family, scale_s),
        w.VBox([family, scale_s]),
        (6, 3.5),
        compute,
        tau_prior_readout,
        lambda p, ax: _draw_tau(p, ax, nuts_tau, nuts_label),
    )
