"""The examples run as a user would run them, and reach the figures their docstrings promise."""

from __future__ import annotations

import os

import pytest

from tests.helpers import load_example, require_fashion_mnist


@pytest.mark.slow
def test_fashion_cnn_reaches_91_percent():
    require_fashion_mnist()
    result = load_example("fashion_cnn").main([])
    assert result["test_accuracy"] >= 0.91, result


@pytest.mark.slow
def test_conv_autoencoder_reconstructs_and_saves_a_png(tmp_path):
    require_fashion_mnist()
    png = tmp_path / "reconstructions.png"
    result = load_example("conv_autoencoder").main(["--out", str(png)])
    # predicting every pixel as the mean image gives 0.087 on the test set; the autoencoder must do far better
    assert result["test_error"] < 0.01, result
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 10_000


@pytest.mark.slow
def test_mnist1d_gru_classifies_sequences():
    pytest.importorskip("mnist1d", reason="pip install mnist1d (the test extra installs it)")
    result = load_example("mnist1d_gru").main([])
    assert result["test_accuracy"] >= 0.85, result
