"""MNIST and Fashion-MNIST from their IDX files, with torchvision's attributes (``data``, ``targets``,
``classes``) but tensors instead of PIL images.

The files are looked up in ``root`` (holding them directly, or in torchvision's ``root/<Name>/raw/``
layout, raw or ``.gz``). Fashion-MNIST is also found where Debian's ``dataset-fashion-mnist`` package
installed it (the folder is read from dpkg's list of the package's files). ``download=True`` fetches
missing files from the official mirrors into ``root/<Name>/raw/`` and checks their SHA-256.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import numpy as np

from chainrule.creation import from_numpy
from chainrule.datasets.idx import read_idx
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor
from chainrule.utils.data.collate import default_collate
from chainrule.utils.data.dataset import Dataset

__all__ = ["MNIST", "FashionMNIST", "debian_fashion_mnist_folder", "download_url"]

DPKG_LIST = Path("/var/lib/dpkg/info/dataset-fashion-mnist.list")  # what `dpkg -L dataset-fashion-mnist` reads


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28 x 28 pixels.

    Like ``torchvision.datasets.MNIST``: ``data`` is a uint8 tensor (N, 28, 28), ``targets`` an int64
    tensor (N,), ``classes`` the class names, and ``dataset[i]`` is ``(image, label)`` with ``label`` an
    int. Unlike torchvision, which gives a PIL image, ``image`` is a float32 tensor (1, 28, 28) scaled
    to [0, 1] (what torchvision's ``ToTensor()`` would make of it); ``transform`` and
    ``target_transform``, when given, are applied to that tensor and to the label.

    The files are read from ``root`` only (directly in it or in ``root/MNIST/raw/``); with
    ``download=True`` missing files are fetched there from the official mirrors and checked. Debian's
    ``dataset-fashion-mnist`` folder, which uses the same file names, is never used: it holds
    Fashion-MNIST.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [  # the official files and their SHA-256
        ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    how_to_get = ("Put the four official files ({files}) from one of {mirrors} in a folder and pass "
                  "root=FOLDER, or pass root=FOLDER and download=True to fetch and check them. "
                  "(Debian's dataset-fashion-mnist package holds Fashion-MNIST, not MNIST: use FashionMNIST for it.)")

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True,
                 transform: Callable[[Tensor], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None, download: bool = False) -> None:
        self.root = None if root is None else Path(root).expanduser()
        self.train, self.transform, self.target_transform = train, transform, target_transform
        self.folder = self._find()
        if self.folder is None and download:
            self.download()
            self.folder = self._find()
        if self.folder is None:
            raise self._missing_error()
        images_path, labels_path = (self._locate(self.folder, name) for name in self._split_files())
        images, labels = read_idx(images_path), read_idx(labels_path)
        self._check(images_path, images, labels_path, labels)
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    # ------------------------------------------------------------------ samples
    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = from_numpy(_scale(self.data._data[index]).reshape(1, 28, 28))
        target = int(self.targets._data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __getbatch__(self, indices: Sequence[int]) -> Any:
        """The collated batch ``[images (B, 1, 28, 28), labels (B,)]`` in one fancy index (item by item
        when there are transforms to apply)."""
        if self.transform is not None or self.target_transform is not None:
            return default_collate([self[i] for i in indices])
        index = np.asarray(indices, dtype=np.intp)
        return [from_numpy(_scale(self.data._data[index]).reshape(-1, 1, 28, 28)),
                from_numpy(self.targets._data[index])]

    def __len__(self) -> int:
        return len(self.data)

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Each class name's label."""
        return {name: i for i, name in enumerate(self.classes)}

    def __repr__(self) -> str:
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.folder}\n    Split: {'Train' if self.train else 'Test'}")

    # ------------------------------------------------------------------ files
    def _split_files(self) -> tuple[str, str]:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _folders(self) -> list[Path]:
        """Where to look, in order: ``root`` itself, then torchvision's ``root/<Name>/raw``."""
        return [] if self.root is None else [self.root, self.root / type(self).__name__ / "raw"]

    @staticmethod
    def _locate(folder: Path, name: str) -> Path | None:
        """``folder/name`` or else ``folder/name.gz``, whichever exists."""
        return next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)

    def _find(self) -> Path | None:
        """The first folder holding both files of the split."""
        folder = next((f for f in self._folders() if all(self._locate(f, n) for n in self._split_files())), None)
        if folder is not None:
            self._refuse_foreign(folder)
        return folder

    def _refuse_foreign(self, folder: Path) -> None:
        """Never read Debian's Fashion-MNIST folder as MNIST: its files have MNIST's names."""
        debian = debian_fashion_mnist_folder()
        if debian is not None and folder.resolve() == debian.resolve():
            raise ChainruleError(
                f"{type(self).__name__}: {folder} holds Fashion-MNIST (installed by Debian's dataset-fashion-mnist "
                f"package under MNIST's file names), not MNIST. " + self._how_to_get())

    def _missing_error(self) -> ChainruleError:
        images, labels = self._split_files()
        searched = ", ".join(str(f) for f in self._folders()) or "no folder (root=None)"
        split = "training" if self.train else "test"
        return ChainruleError(f"{type(self).__name__}: the {split} files {images}[.gz] and {labels}[.gz] were not "
                              f"found; searched: {searched}. " + self._how_to_get())

    def _how_to_get(self) -> str:
        files = ", ".join(name for name, _ in self.resources)
        return self.how_to_get.format(files=files, mirrors=", ".join(self.mirrors))

    def _check(self, images_path: Path, images: np.ndarray, labels_path: Path, labels: np.ndarray) -> None:
        """The files must hold N uint8 images of 28 x 28 and N labels below the number of classes."""
        name = type(self).__name__
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ChainruleError(f"{name}: {images_path} holds {images.dtype} data of shape {images.shape}, "
                                 f"not uint8 images of shape (N, 28, 28)")
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise ChainruleError(f"{name}: {labels_path} holds {labels.dtype} data of shape {labels.shape}, "
                                 f"not {len(images)} uint8 labels to go with {images_path}")
        if labels.max() >= len(self.classes):
            raise ChainruleError(f"{name}: {labels_path} holds the label {labels.max()}; labels must be below "
                                 f"{len(self.classes)}")

    def download(self) -> None:
        """Fetch the official files missing from ``root/<Name>/raw`` and check their SHA-256."""
        if self.root is None:
            raise ChainruleError(f"{type(self).__name__}: download=True needs root=FOLDER to download into")
        folder = self.root / type(self).__name__ / "raw"
        folder.mkdir(parents=True, exist_ok=True)
        for filename, sha256 in self.resources:
            if self._locate(folder, filename.removesuffix(".gz")) is None:
                download_url([mirror + filename for mirror in self.mirrors], folder / filename, sha256)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 60,000 training and 10,000 test images of clothes, 28 x 28, 10 classes.

    Everything works as in :class:`MNIST`; the files are looked up in ``root`` (directly or in
    ``root/FashionMNIST/raw/``) and then where Debian's ``dataset-fashion-mnist`` package installed
    them, so on Debian or Ubuntu ``sudo apt-get install dataset-fashion-mnist`` then
    ``FashionMNIST()`` is all it takes.
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    how_to_get = ("Install them with `sudo apt-get install dataset-fashion-mnist` (Debian, Ubuntu), or put "
                  "the four files ({files}) from https://github.com/zalandoresearch/fashion-mnist in a folder "
                  "and pass root=FOLDER, or pass root=FOLDER and download=True to fetch and check them.")

    def _folders(self) -> list[Path]:
        debian = debian_fashion_mnist_folder()
        return super()._folders() + ([] if debian is None else [debian])

    def _refuse_foreign(self, folder: Path) -> None:
        """Any folder may hold Fashion-MNIST."""


def debian_fashion_mnist_folder() -> Path | None:
    """The folder of Debian's ``dataset-fashion-mnist`` files, read from dpkg's list of the package's
    files (None when the package is not installed)."""
    try:
        installed = DPKG_LIST.read_text().splitlines()
    except OSError:
        return None
    return next((Path(p).parent for p in installed if p.endswith("/train-images-idx3-ubyte.gz")), None)


def _scale(images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1], as torchvision's ``ToTensor`` (x / 255)."""
    return images.astype(np.float32) / np.float32(255)


def fetch(url: str) -> BinaryIO:
    """Open ``url`` for reading (the one network call; tests replace it)."""
    return urllib.request.urlopen(url, timeout=60)  # noqa: S310 - fixed https/http mirrors


def download_url(urls: Sequence[str], path: Path, sha256: str) -> None:
    """Save to ``path`` the first of ``urls`` whose content has the SHA-256 ``sha256``.

    Each attempt streams into a temporary file beside ``path``, which is renamed to ``path`` only once
    complete and checked, so an interrupted or wrong download never leaves a file that looks finished.
    """
    failures = []
    for url in urls:
        part = None
        try:
            with fetch(url) as response, tempfile.NamedTemporaryFile(
                    dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False) as out:
                part = Path(out.name)
                digest = hashlib.sha256()
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                failures.append(f"{url}: wrong SHA-256 {digest.hexdigest()} (expected {sha256})")
                continue
            os.replace(part, path)
            part = None
            return
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{url}: {error}")
        finally:
            if part is not None:
                part.unlink(missing_ok=True)
    raise ChainruleError(f"download: could not get {path.name}: " + "; ".join(failures))
