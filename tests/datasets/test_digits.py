"""The built-in digits: shipped in the package, scikit-learn's layout, as tensors."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.datasets import load_digits
from chainrule.datasets.digits import DIGITS_FILE


def test_shapes_and_dtypes():
    digits = load_digits()
    assert digits.data.shape == (1797, 64) and digits.data.dtype == cr.float32
    assert digits.images.shape == (1797, 8, 8) and digits.images.dtype == cr.float32
    assert digits.target.shape == (1797,) and digits.target.dtype == cr.int64
    assert digits.target_names == list(range(10))
    assert "Alpaydin" in digits.DESCR
    assert digits["data"] is digits.data  # a Bunch: keys are attributes


def test_data_is_the_flattened_images():
    digits = load_digits()
    np.testing.assert_array_equal(digits.data.numpy(), digits.images.numpy().reshape(1797, 64))


def test_values_are_grey_levels_0_to_16():
    data = load_digits().data.numpy()
    assert data.min() == 0 and data.max() == 16
    np.testing.assert_array_equal(data, np.round(data))


def test_about_180_of_each_digit():
    counts = np.bincount(load_digits().target.numpy())
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert counts.sum() == 1797


def test_first_labels_and_a_known_image():
    digits = load_digits()
    assert digits.target[:10].tolist() == list(range(10))
    zero = digits.images[0].numpy()  # the first image is a 0: a ring of ink around an empty middle
    assert zero[3:5, 3:5].max() < 4 and zero[:, 1:3].max() >= 12


def test_return_X_y():  # noqa: N802 - scikit-learn's name
    X, y = load_digits(return_X_y=True)
    assert X.shape == (1797, 64) and y.shape == (1797,)


def test_file_is_a_small_pickle_free_npz_with_its_licence():
    assert DIGITS_FILE.stat().st_size < 100_000
    with np.load(DIGITS_FILE, allow_pickle=False) as stored:
        assert stored["images"].dtype == np.uint8 and stored["labels"].dtype == np.int64
    licence = (DIGITS_FILE.parent / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in licence and "Alpaydin" in licence and "Kaynak" in licence
