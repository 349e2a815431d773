"""Write chainrule/datasets/data/digits.npz from scikit-learn's copy of the UCI digits (run once).

scikit-learn ships the test partition of the UCI "Optical Recognition of Handwritten Digits" data set
(E. Alpaydin and C. Kaynak, 1998; CC BY 4.0): 1,797 images of 8 x 8 block counts in 0 … 16. This
script stores them as uint8 images and int64 labels in a compressed NumPy file, which
``chainrule.datasets.load_digits`` reads; the package itself never imports scikit-learn.

    pip install scikit-learn && python tools/make_digits.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent.parent / "chainrule" / "datasets" / "data" / "digits.npz"


def main() -> None:
    digits = load_digits()
    images = digits.images
    if images.shape != (1797, 8, 8) or not np.array_equal(images, np.round(images)) or images.max() > 16:
        raise SystemExit(f"unexpected digits from scikit-learn: shape {images.shape}, max {images.max()}")
    np.savez_compressed(OUT, images=images.astype(np.uint8), labels=digits.target.astype(np.int64))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()})")


if __name__ == "__main__":
    main()
