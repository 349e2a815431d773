"""A convolutional autoencoder on Fashion-MNIST: 28×28 images squeezed to 32×7×7 and rebuilt.

    python examples/conv_autoencoder.py                       # writes reconstructions.png
    python examples/conv_autoencoder.py --epochs 1 --out /tmp/ae.png

The encoder halves the image twice with stride-2 convolutions; the decoder doubles it back twice with
``ConvTranspose2d`` and ends in a sigmoid, since pixels lie in [0, 1]. The loss is the mean squared
error between the image and its reconstruction; the test images' error is printed, and the first test
images are saved next to their reconstructions as a PNG (needs matplotlib: pip install 'chainrule[plot]').
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Sequence

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.datasets import FashionMNIST


def load(train: bool, root: str | None, limit: int | None) -> np.ndarray:
    """The first ``limit`` images as float32 (N, 1, 28, 28) in [0, 1]."""
    images = FashionMNIST(root=root, train=train).data.numpy()[:limit]
    return images.astype(np.float32)[:, None] / 255


def build_model() -> nn.Sequential:
    """Encoder (1×28×28 → 16×14×14 → 32×7×7) and decoder (back to 1×28×28)."""
    encoder = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
                            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
    decoder = nn.Sequential(nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())
    return nn.Sequential(encoder, decoder)


def reconstruction_error(model: nn.Module, x: np.ndarray, batch_size: int = 1000) -> float:
    """Mean squared error per pixel over ``x``."""
    model.eval()
    with cr.no_grad():
        total = sum(F.mse_loss(model(cr.from_numpy(x[i:i + batch_size])), cr.from_numpy(x[i:i + batch_size]),
                               reduction="sum").item() for i in range(0, len(x), batch_size))
    return total / x.size


def save_samples(model: nn.Module, x: np.ndarray, path: str) -> None:
    """The images of ``x`` (top row) above their reconstructions (bottom row), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with cr.no_grad():
        rebuilt = model.eval()(cr.from_numpy(x)).numpy()
    fig, axes = plt.subplots(2, len(x), figsize=(len(x), 2.2))
    for column, (original, copy) in enumerate(zip(x, rebuilt)):
        for row, image in enumerate((original, copy)):
            axes[row, column].imshow(image[0], cmap="gray", vmin=0, vmax=1)
            axes[row, column].axis("off")
    axes[0, 0].set_title("input", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--out", default="reconstructions.png", help="where to save the sample reconstructions")
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, x_test = load(True, args.data_root, args.train_images), load(False, args.data_root, None)
    model = build_model()
    optimizer = cr.optim.Adam(model.parameters(), lr=args.lr)
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), args.batch_size):
            images = cr.from_numpy(x_train[order[start:start + args.batch_size]])
            loss = F.mse_loss(model(images), images)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        error = reconstruction_error(model, x_test)
        print(f"epoch {epoch}: test reconstruction error (mean squared, per pixel) {error:.5f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    save_samples(model, x_test[:10], args.out)
    print(f"saved sample reconstructions to {args.out}")
    return {"test_error": error, "png": args.out, "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    main()
