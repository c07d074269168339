"""Widgets: the coin explorer is wired to the tested grid posterior."""

import pytest

from vibook.models import beta_binomial_posterior, coin_grid_posterior
from vibook.panels import coin_readout
from vibook.widgets import coin_flip_explorer


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
    ]


@pytest.mark.parametrize("index", range(4), ids=["coin", "bnn-prior", "mixture", "elbo"])
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
