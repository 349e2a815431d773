"""The 1,797 handwritten digits of 8 x 8 pixels shipped with chainrule (UCI "Optical Recognition of
Handwritten Digits", E. Alpaydin and C. Kaynak, 1998, CC BY 4.0: see data/DIGITS_LICENSE.txt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from chainrule.creation import from_numpy
from chainrule.tensor import Tensor

__all__ = ["load_digits", "Bunch", "DIGITS_FILE"]

DIGITS_FILE = Path(__file__).resolve().parent / "data" / "digits.npz"


class Bunch(dict):
    """A dict whose keys are also attributes (``d.data`` is ``d["data"]``), like scikit-learn's."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def load_digits(*, return_X_y: bool = False) -> Bunch | tuple[Tensor, Tensor]:  # noqa: N803 - sklearn's name
    """The 1,797 handwritten digits, as scikit-learn's ``load_digits`` gives them but as tensors.

    Returns a :class:`Bunch` with ``data`` (float32 tensor (1797, 64): each image's 64 pixels, row by
    row, integer grey levels 0 … 16, not rescaled), ``images`` (the same as (1797, 8, 8)), ``target``
    (int64 tensor (1797,), the digit 0 … 9, about 180 of each), ``target_names`` (0 … 9) and
    ``DESCR``; or ``(data, target)`` with ``return_X_y=True``. Read from the package, no download.
    """
    with np.load(DIGITS_FILE, allow_pickle=False) as stored:
        images, labels = stored["images"].astype(np.float32), stored["labels"]
    data, target = from_numpy(images.reshape(len(images), 64)), from_numpy(labels)
    if return_X_y:
        return data, target
    return Bunch(data=data, images=from_numpy(images), target=target, target_names=list(range(10)),
                 DESCR=__doc__)
