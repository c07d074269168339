"""Plot helpers: each draws on the axes it is given (or a new one), returns them, and draws
what its docstring says."""

import arviz_base as azb
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

from vibook.metrics import calibration_bins, expected_calibration_error
from vibook.models import coin_grid_posterior
from vibook.panels import elbo_panel, kl_panel
from vibook.plots import (
    plot_coin_posterior,
    plot_divergences,
    plot_elbo_panel,
    plot_function_draws,
    plot_image_row,
    plot_kl_fits,
    plot_learning_curves,
    plot_marginal_overlay,
    plot_mixture_2d,
    plot_regression_uncertainty,
    plot_reliability,
)

RNG = np.random.default_rng(0)
N_CHAINS, N_DRAWS = 4, 200


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(params=[False, True], ids=["new axes", "given axes"])
def given_ax(request):
    """None, or axes of a figure made here, which the helper must draw on and return."""
    if not request.param:
        return None
    _, ax = plt.subplots()
    return ax


def _returned(ax, given_ax):
    assert isinstance(ax, Axes)
    if given_ax is not None:
        assert ax is given_ax
    return ax


def _labels(ax):
    return ax.get_legend_handles_labels()[1]


def _legend(ax):
    assert ax.get_legend() is not None
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _nuts_tree():
    diverging = np.zeros((N_CHAINS, N_DRAWS), bool)
    diverging[np.arange(N_CHAINS), np.arange(N_CHAINS)] = True  # one per chain
    return azb.from_dict(
        {
            "posterior": {
                "mu": RNG.normal(size=(N_CHAINS, N_DRAWS)),
                "tau": np.exp(RNG.normal(size=(N_CHAINS, N_DRAWS))),
                "theta": RNG.normal(size=(N_CHAINS, N_DRAWS, 3)),
            },
            "sample_stats": {"diverging": diverging},
        },
        dims={"theta": ["school"]},
    )


def _svi_tree():
    return azb.from_dict(
        {
            "posterior": {
                "mu": RNG.normal(1, 1, size=(1, 300)),
                "tau": np.ones((1, 300)),
                "theta": RNG.normal(size=(1, 300, 3)),
            }
        },
        dims={"theta": ["school"]},
    )


def test_plot_coin_posterior(given_ax):
    ax = _returned(plot_coin_posterior(coin_grid_posterior(7, flips=10), ax=given_ax), given_ax)
    assert _legend(ax) == ["prior", "likelihood (scaled)", "posterior"]
    assert len(ax.lines) == 4  # three curves and the posterior mean
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylabel() == "density"


def test_plot_marginal_overlay(given_ax):
    fits = {"NUTS": _nuts_tree(), "SVI": _svi_tree()}
    ax = _returned(plot_marginal_overlay(fits, "mu", bins=20, ax=given_ax), given_ax)
    assert _legend(ax) == ["NUTS", "SVI"]
    assert len(ax.patches) == 2  # one histogram outline per fit
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("mu", "density")
    ax = plot_marginal_overlay(fits, "theta", coords={"school": 1}, reference="SVI")
    assert ax.get_xlabel() == "theta[1]"
    with pytest.raises(ValueError, match="reference"):
        plot_marginal_overlay(fits, "mu", reference="MCMC")


def test_plot_divergences(given_ax):
    tree = _nuts_tree()
    ax = plot_divergences(tree, "theta", "tau", x_coords={"school": 0}, log_y=True, ax=given_ax)
    ax = _returned(ax, given_ax)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("theta[0]", "log tau")
    assert _legend(ax) == ["draws", f"divergent ({N_CHAINS})"]
    draws, divergent = ax.collections
    assert len(divergent.get_offsets()) == N_CHAINS
    assert len(draws.get_offsets()) == N_CHAINS * N_DRAWS - N_CHAINS


def test_plot_regression_uncertainty(given_ax):
    x = np.linspace(-3, 3, 50)
    mean_draws = np.sin(x) + 0.1 * RNG.normal(size=(20, 50))
    ax = plot_regression_uncertainty(
        x,
        mean_draws,
        sigma=np.full(20, 0.3),
        x_data=x[::5],
        y_data=np.sin(x[::5]),
        gap=(-1.0, 1.0),
        title="BNN",
        ax=given_ax,
    )
    ax = _returned(ax, given_ax)
    assert _labels(ax) == [
        "+-2 sd, with noise",
        "+-2 sd, epistemic",
        "predictive mean",
        "data",
    ]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), mean_draws.mean(0))
    assert ax.get_title() == "BNN" and (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    # Without sigma, data or gap: only the epistemic band and the mean.
    ax = plot_regression_uncertainty(x, mean_draws)
    assert _labels(ax) == ["+-2 sd, epistemic", "predictive mean"]


def test_plot_reliability(given_ax):
    probs = RNG.dirichlet(np.ones(3), size=200)
    y = RNG.integers(0, 3, 200)
    ax = _returned(plot_reliability(probs, y, n_bins=5, label="MLP", ax=given_ax), given_ax)
    assert len(ax.patches) == 2 * 5  # accuracy and gap bars in each bin
    # Each gap bar spans the accuracy and the mean confidence of its bin (0 for an empty bin).
    bins = {k: np.nan_to_num(v) for k, v in calibration_bins(probs, y, n_bins=5).items()}
    for bar, a, c in zip(ax.patches[5:], bins["accuracy"], bins["confidence"], strict=True):
        assert bar.get_y() == pytest.approx(min(a, c)) and bar.get_height() == pytest.approx(
            abs(a - c)
        )
    names = ["perfect calibration", "accuracy in the bin", "gap to the mean confidence"]
    assert _labels(ax) == names and _legend(ax) == names
    ece = expected_calibration_error(probs, y, n_bins=5)
    assert ax.get_title() == f"MLP: ECE = {ece:.3f} (5 bins)"
    assert ax.get_ylabel() == "accuracy" and ax.get_xlabel().startswith("confidence")
    # Each non-empty bin is labelled with its count: 200 inputs in all.
    counts = calibration_bins(probs, y, n_bins=5)["count"]
    assert [t.get_text() for t in ax.texts] == [str(c) for c in counts if c]
    assert sum(int(t.get_text()) for t in ax.texts) == 200
    # By default the bins are the ECE's own 15.
    fig, ax15 = plt.subplots()
    plot_reliability(probs, y, ax=ax15)
    assert ax15.get_title() == f"ECE = {expected_calibration_error(probs, y):.3f} (15 bins)"
    plt.close(fig)


def test_plot_function_draws(given_ax):
    x = np.linspace(0, 1, 10)
    draws = RNG.normal(size=(40, 10))
    ax = plot_function_draws(x, draws, title="prior", max_lines=25, ax=given_ax)
    ax = _returned(ax, given_ax)
    assert len(ax.lines) == 25
    np.testing.assert_array_equal(ax.lines[3].get_ydata(), draws[3])
    assert ax.get_title() == "prior" and ax.get_ylabel() == "f(x)"


def test_plot_learning_curves(given_ax):
    n = np.array([10, 20, 30])
    acc = {"random": RNG.uniform(0.5, 0.7, (3, 3)), "BALD": RNG.uniform(0.6, 0.9, (3, 3))}
    ax = _returned(plot_learning_curves(n, acc, target=0.95, ax=given_ax), given_ax)
    assert _legend(ax) == ["random", "BALD"]
    assert len(ax.lines) == 3  # two means and the target
    np.testing.assert_allclose(ax.lines[1].get_ydata(), acc["BALD"].mean(0))
    assert len(ax.collections) == 2  # a min-max band per curve
    assert ax.get_xlabel() == "labelled points"


def test_plot_image_row(given_ax):
    images = RNG.random((3, 64))
    ax = plot_image_row(images, titles=["a", "b", "c"], ax=given_ax)
    ax = _returned(ax, given_ax)
    (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert image.get_array().shape == (8, 3 * 9 - 1)  # three 8x8 images, 1-pixel gaps
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c"]
    assert not ax.axison


def test_plot_mixture_2d(given_ax):
    x = RNG.normal(size=(50, 2))
    weights = np.array([0.995, 0.005])
    locs = np.array([[0.0, 0.0], [3.0, 3.0]])
    covs = np.stack([np.eye(2), 0.5 * np.eye(2)])
    ax = plot_mixture_2d(x, weights, locs, covs, labels=np.arange(50) % 2, title="EM", ax=given_ax)
    ax = _returned(ax, given_ax)
    # one scatter per label, each named in the legend with the ellipse and the mean marker
    assert [len(c.get_offsets()) for c in ax.collections] == [25, 25]
    assert _legend(ax) == [
        "points labelled 0",
        "points labelled 1",
        "2-sd ellipse (width grows with weight)",
        "cluster mean",
    ]
    ellipses = ax.lines[::2]  # each cluster: its 2-sd ellipse, then its mean marker
    assert len(ax.lines) == 4
    assert [e.get_linestyle() for e in ellipses] == ["-", "--"]  # weight below 1%: dashed
    # The ellipse of N(0, I) at 2 sd is the circle of radius 2.
    np.testing.assert_allclose(np.hypot(*ellipses[0].get_data()), 2.0)
    assert ax.get_title() == "EM"


def test_plot_kl_fits(given_ax):
    panel = kl_panel(0.0, 1.0, grid_size=201)
    ax = _returned(plot_kl_fits(panel, ax=given_ax), given_ax)
    assert _legend(ax) == ["target p", "q"]
    assert len(ax.lines) == 2 and len(ax.collections) == 1
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), panel["q"])


def test_plot_elbo_panel(given_ax):
    panel = elbo_panel(np.array([0.5, 1.0, 1.5]), 0.5, 0.5)
    ax = _returned(plot_elbo_panel(panel, ax=given_ax), given_ax)
    assert _legend(ax) == ["exact posterior", "q"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), panel["posterior"])
    assert ax.get_ylabel() == "density"
