"""Widgets: the coin explorer is wired to the tested grid posterior, the tau explorer to the
exact marginal posterior of eight schools' tau; every slider redraws on release, the mixture
explorer keeps its fits, and each widget's display carries its first figure as a PNG."""

import numpy as np
import pytest

import vibook.panels
import vibook.widgets
from vibook.models import beta_binomial_posterior, coin_grid_posterior
from vibook.panels import coin_readout, tau_prior_panel, tau_prior_readout
from vibook.widgets import coin_flip_explorer, mixture_explorer, tau_prior_explorer


def _find(widget, description):
    stack = [widget]
    while stack:
        node = stack.pop()
        if getattr(node, "description", None) == description:
            return node
        stack.extend(getattr(node, "children", ()))
    raise LookupError(description)


def _readout(widget):
    stack = [widget]
    while stack:
        node = stack.pop()
        if "vibook-readout" in getattr(node, "_dom_classes", ()):
            return node.value
        stack.extend(getattr(node, "children", ()))
    raise LookupError("readout")


def test_readout_follows_the_sliders():
    panel = coin_flip_explorer(a=2.0, b=2.0, heads=7, tails=3)
    assert _readout(panel) == coin_readout(coin_grid_posterior(7, flips=10, a=2.0, b=2.0))
    _find(panel, "prior a").value = 10.0
    _find(panel, "heads").value = 20
    exact = float(beta_binomial_posterior(20, flips=23, a=10.0, b=2.0).mean)
    assert f"posterior mean = {exact:.3f}" in _readout(panel)


def test_switching_to_logit_normal_prior_changes_the_readout():
    panel = coin_flip_explorer()
    before = _readout(panel)
    _find(panel, "prior").value = "logit-normal"
    after = _readout(panel)
    assert after != before
    expected = coin_grid_posterior(7, flips=10, prior="logit-normal", loc=0.0, scale=1.5)
    assert after == coin_readout(expected)


def _explorers():
    import numpy as np

    from vibook.data import load_faithful
    from vibook.widgets import bnn_prior_explorer, elbo_explorer, mixture_explorer

    raw = load_faithful()
    faithful = (raw - raw.mean(0)) / raw.std(0)
    x = np.random.default_rng(0).normal(1.0, 1.0, size=15)
    return [
        ("coin", lambda: coin_flip_explorer(), "heads", 30),
        ("bnn prior", lambda: bnn_prior_explorer(), "prior scale", 3.0),
        ("mixture", lambda: mixture_explorer(faithful, n_components=3), "components", 2),
        ("elbo", lambda: elbo_explorer(x), "q mean", 1.0),
        ("tau prior", lambda: tau_prior_explorer(), "prior scale", 20.0),
    ]


@pytest.mark.parametrize(
    "index", range(5), ids=["coin", "bnn-prior", "mixture", "elbo", "tau-prior"]
)
def test_every_explorer_draws_and_redraws_when_a_slider_moves(index):
    """Each widget builds, draws its figure into its Output, and redraws on a slider move."""
    import matplotlib.pyplot as plt

    _, build, description, value = _explorers()[index]
    open_before = plt.get_fignums()
    panel = build()
    before = _readout(panel)
    _find(panel, description).value = value
    assert _readout(panel) != before
    assert plt.get_fignums() == open_before, "a redraw left a figure open"


@pytest.fixture
def drawn(monkeypatch):
    """What each redraw of a widget put on its figure: title, axis labels, legend, lines."""
    import matplotlib.pyplot as plt

    figures = []

    def record(fig):
        ax = fig.axes[0]
        figures.append(
            {
                "title": ax.get_title(),
                "labels": (ax.get_xlabel(), ax.get_ylabel()),
                "legend": [t.get_text() for t in ax.get_legend().get_texts()],
                "lines": {ln.get_label(): np.asarray(ln.get_ydata()) for ln in ax.get_lines()},
                "bars": len(ax.patches),
            }
        )
        plt.close(fig)

    monkeypatch.setattr(vibook.widgets, "_show", record)
    return figures


def test_tau_explorer_readout_and_figure_follow_the_prior(drawn):
    draws = np.random.default_rng(0).gamma(1.5, 2.5, size=400)
    panel = tau_prior_explorer(tau_prior="half_cauchy", tau_scale=5.0, nuts_tau=draws)
    assert _readout(panel) == tau_prior_readout(tau_prior_panel())
    first = drawn[-1]
    assert first["legend"] == [
        "NUTS draws (half-Cauchy(5) prior)",
        "prior: half-Cauchy(5)",
        "exact posterior",
        "posterior mean",
    ]
    assert all(first["labels"]) and "half-Cauchy(5)" in first["title"]
    assert first["bars"] == 60  # the NUTS histogram
    _find(panel, "prior scale").value = 1.0
    assert _readout(panel) == tau_prior_readout(tau_prior_panel(tau_scale=1.0))
    _find(panel, "prior").value = "half_normal"
    assert _readout(panel) == tau_prior_readout(
        tau_prior_panel(tau_prior="half_normal", tau_scale=1.0)
    )
    last = drawn[-1]
    assert len(drawn) == 3 and "half-normal(1)" in last["title"]
    assert "NUTS draws (half-Cauchy(5) prior)" in last["legend"]  # the starting prior's draws
    before, after = first["lines"]["exact posterior"], last["lines"]["exact posterior"]
    assert before.shape != after.shape or not np.allclose(before, after)


def test_tau_explorer_refuses_bad_input():
    with pytest.raises(ValueError, match="tau_scale must be in"):
        tau_prior_explorer(tau_scale=1000.0)
    with pytest.raises(ValueError, match="nuts_tau must have 1"):
        tau_prior_explorer(nuts_tau=np.ones((4, 100)))
    with pytest.raises(ValueError, match="nuts_tau must be >= 0"):
        tau_prior_explorer(nuts_tau=-np.ones(100))
    with pytest.raises(ValueError, match="tau_prior must be one of"):
        tau_prior_explorer(tau_prior="flat")


def _sliders(widget):
    stack, found = [widget], []
    while stack:
        node = stack.pop()
        if hasattr(node, "continuous_update"):
            found.append(node)
        stack.extend(getattr(node, "children", ()))
    return found


@pytest.mark.parametrize(
    "index", range(5), ids=["coin", "bnn-prior", "mixture", "elbo", "tau-prior"]
)
def test_every_slider_redraws_on_release(index):
    # A redraw (a figure drawn and sent) takes far more than a frame: following the drag would
    # queue redraws behind the hand; the mixture's refits and the BNN's draws most of all.
    _, build, description, _ = _explorers()[index]
    sliders = _sliders(build())
    assert description in {s.description for s in sliders}
    assert [s.description for s in sliders if s.continuous_update] == []


def _figure_data(fig):
    """Everything a figure shows, as arrays and strings: lines, point clouds, legend, title."""
    ax = fig.axes[0]
    return {
        "lines": [(ln.get_label(), np.asarray(ln.get_xydata()), ln.get_lw()) for ln in ax.lines],
        "points": [(np.asarray(c.get_offsets()), c.get_facecolors()) for c in ax.collections],
        "legend": [t.get_text() for t in ax.get_legend().get_texts()],
        "title": ax.get_title(),
    }


def test_mixture_slider_moved_back_shows_the_kept_fit_without_refitting(monkeypatch):
    import matplotlib.pyplot as plt

    from vibook.data import load_faithful

    raw = load_faithful()
    x = (raw - raw.mean(0)) / raw.std(0)
    fits, figures = [], []

    def counted(*args, **kwargs):
        fits.append(kwargs)
        return vibook.panels.mixture_occupancy(*args, **kwargs)

    def record(fig):
        figures.append(_figure_data(fig))
        plt.close(fig)

    monkeypatch.setattr(vibook.widgets, "mixture_occupancy", counted)
    monkeypatch.setattr(vibook.widgets, "_show", record)
    panel = mixture_explorer(x, n_components=3)
    first_readout = _readout(panel)
    _find(panel, "components").value = 2
    _find(panel, "components").value = 3
    assert [f["n_components"] for f in fits] == [3, 2], "moving back refitted"
    assert _readout(panel) == first_readout
    assert len(figures) == 3
    first, again = figures[0], figures[2]
    assert [ln[0] for ln in first["lines"]] == [ln[0] for ln in again["lines"]]
    for (_, xy, lw), (_, xy2, lw2) in zip(first["lines"], again["lines"], strict=True):
        np.testing.assert_array_equal(xy, xy2)
        assert lw == lw2
    for (pts, colours), (pts2, colours2) in zip(first["points"], again["points"], strict=True):
        np.testing.assert_array_equal(pts, pts2)
        np.testing.assert_array_equal(colours, colours2)
    assert first["legend"] == again["legend"] and first["title"] == again["title"]


@pytest.mark.parametrize(
    "index", range(5), ids=["coin", "bnn-prior", "mixture", "elbo", "tau-prior"]
)
def test_display_bundle_is_the_live_widget_with_its_first_figure_as_png(index):
    import base64
    import io

    import matplotlib.image

    sizes = {"coin": (6, 3.5), "bnn prior": (6, 3.2), "mixture": (5, 4), "elbo": (6, 3.5)}
    name, build, _, _ = _explorers()[index]
    panel = build()
    bundle = panel._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == panel.model_id  # JupyterLab's live widget is still there
    png = base64.b64decode(bundle["image/png"], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = sizes.get(name, (6, 3.5))
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (round(height * 100), round(width * 100))
    assert image[..., :3].std() > 0.05, "the static figure is blank"
    text = bundle["text/plain"]
    assert len(text) < 110 and "explorer" in text and "children=" not in text
