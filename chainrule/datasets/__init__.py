"""Data sets: the built-in digits, MNIST and Fashion-MNIST from IDX files, and toy problems.

    from chainrule.datasets import load_digits, FashionMNIST, make_moons
    X, y = load_digits(return_X_y=True)   # shipped with the package
    train = FashionMNIST(train=True)      # after `sudo apt-get install dataset-fashion-mnist`
"""

from chainrule.datasets.digits import load_digits
from chainrule.datasets.idx import read_idx
from chainrule.datasets.mnist import MNIST, FashionMNIST
from chainrule.datasets.toy import make_moons, make_spirals

__all__ = ["load_digits", "read_idx", "MNIST", "FashionMNIST", "make_moons", "make_spirals"]
