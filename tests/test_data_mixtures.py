import numpy as np
import pytest

from vibook.data import FAITHFUL_COLUMNS, load_faithful, make_mixture


def test_faithful_matches_the_published_summary():
    x = load_faithful()
    assert x.shape == (272, 2) and FAITHFUL_COLUMNS == ("eruptions", "waiting")
    # R: summary(faithful); sapply(faithful, sd)
    np.testing.assert_allclose(x.mean(0), [3.487783, 70.897059], rtol=1e-6)
    np.testing.assert_allclose(x.std(0, ddof=1), [1.141371, 13.594974], rtol=1e-6)
    np.testing.assert_allclose(np.median(x, 0), [4.0, 76.0])
    np.testing.assert_allclose(x.min(0), [1.6, 43.0])
    np.testing.assert_allclose(x.max(0), [5.1, 96.0])
    np.testing.assert_allclose(x[:3], [[3.6, 79], [1.8, 54], [3.333, 74]])


def test_make_mixture_returns_its_truth():
    d = make_mixture(20000, n_components=4, dim=3, separation=3.0, seed=5)
    assert d["x"].shape == (20000, 3) and d["locs"].shape == (4, 3)
    assert d["covariances"].shape == (4, 3, 3)
    gaps = np.linalg.norm(d["locs"][:, None] - d["locs"][None], axis=-1)
    assert gaps[np.triu_indices(4, 1)].min() >= 3.0
    counts = np.bincount(d["labels"], minlength=4) / 20000
    # Binomial se of each proportion <= sqrt(0.25 / 20000) = 0.0035; 0.015 is > 4 se.
    np.testing.assert_allclose(counts, d["weights"], atol=0.015)
    for k in range(4):
        pts = d["x"][d["labels"] == k]
        np.testing.assert_allclose(pts.mean(0), d["locs"][k], atol=0.1)
        np.testing.assert_allclose(np.cov(pts.T), d["covariances"][k], atol=0.1)
    again = make_mixture(20000, n_components=4, dim=3, separation=3.0, seed=5)
    np.testing.assert_array_equal(again["x"], d["x"])


def test_make_mixture_1d_is_sorted():
    d = make_mixture(100, n_components=3, dim=1, seed=0)
    assert d["x"].shape == (100,) and np.all(np.diff(d["locs"]) > 0)


def test_make_mixture_refuses_bad_input():
    with pytest.raises(ValueError, match="separation"):
        make_mixture(10, separation=-1.0)
    with pytest.raises(TypeError, match="n_components"):
        make_mixture(10, n_components=2.5)
