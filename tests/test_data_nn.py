import numpy as np
import pytest

from vibook.data import GAP, gap_regression, load_digits_split, two_moons


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
