"""MNIST and Fashion-MNIST: file lookup, Debian's package, contents, transforms, downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import mnist
from chainrule.datasets.mnist import MNIST, FashionMNIST, debian_fashion_mnist_folder
from chainrule.utils.data import DataLoader, default_collate
from tests.datasets.test_idx import idx_bytes
from tests.helpers import require_torch

SPLITS = {True: ("train", 6), False: ("t10k", 4)}


def write_split(folder: Path, train: bool = True, compress: bool = True, seed: int = 0,
                images: np.ndarray | None = None, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Small IDX files of one split in ``folder``; returns the images and labels written."""
    prefix, n = SPLITS[train]
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if images is None else images
    labels = rng.integers(0, 10, n, dtype=np.uint8) if labels is None else labels
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        content = idx_bytes(array)
        (folder / (name + ".gz" if compress else name)).write_bytes(gzip.compress(content) if compress else content)
    return images, labels


@pytest.fixture
def debian(tmp_path, monkeypatch):
    """A stand-in for Debian's package: a dpkg file list naming a folder with small files."""
    folder = tmp_path / "usr" / "share" / "datasets" / "fashion-mnist"
    listing = tmp_path / "dataset-fashion-mnist.list"
    listing.write_text("/.\n/usr\n" + "".join(
        f"{folder}/{prefix}-{kind}.gz\n" for prefix in ("t10k", "train")
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")) + "/usr/share/doc/dataset-fashion-mnist/copyright\n")
    monkeypatch.setattr(mnist, "DPKG_LIST", listing)
    return folder


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "DPKG_LIST", tmp_path / "not-installed.list")


def real_debian_folder() -> Path:
    """The installed package's folder; skip without it (CI installs it, and forbids skips)."""
    folder = debian_fashion_mnist_folder()
    if folder is None:
        pytest.skip("Debian's dataset-fashion-mnist is not installed: sudo apt-get install dataset-fashion-mnist")
    return folder


# ---------------------------------------------------------------- the real Fashion-MNIST (Debian's package)
@pytest.mark.parametrize("train, n, first_labels", [
    (True, 60000, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]), (False, 10000, [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])])
def test_fashion_mnist_from_debian_package(train, n, first_labels):
    folder = real_debian_folder()
    ds = FashionMNIST(train=train)
    assert ds.folder == folder and len(ds) == n
    assert ds.data.shape == (n, 28, 28) and ds.data.dtype == cr.uint8
    assert ds.targets.shape == (n,) and ds.targets.dtype == cr.int64
    assert ds.targets[:10].tolist() == first_labels
    assert np.bincount(ds.targets.numpy()).tolist() == [n // 10] * 10  # Fashion-MNIST is balanced
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and image.dtype == cr.float32 and label == first_labels[0]
    assert 0 <= image.min().item() and image.max().item() <= 1 and image.max().item() == 1
    np.testing.assert_array_equal(image.numpy()[0] * 255, ds.data.numpy()[0])
    assert ds.classes[9] == "Ankle boot" and ds.class_to_idx["Trouser"] == 1
    assert f"Number of datapoints: {n}" in repr(ds)


def test_mnist_never_reads_the_real_debian_folder():
    folder = real_debian_folder()
    with pytest.raises(cr.ChainruleError, match="searched: no folder"):
        MNIST()
    with pytest.raises(cr.ChainruleError, match="holds Fashion-MNIST.*not MNIST"):
        MNIST(root=folder)


# ---------------------------------------------------------------- lookup
def test_debian_folder_comes_from_dpkg_list(debian):
    assert debian_fashion_mnist_folder() == debian


def test_debian_folder_is_none_without_the_package(no_debian):
    assert debian_fashion_mnist_folder() is None


def test_fashion_mnist_falls_back_to_debian_folder(debian, tmp_path):
    images, labels = write_split(debian)
    ds = FashionMNIST()
    assert ds.folder == debian
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    write_split(tmp_path / "mine", seed=1)
    assert FashionMNIST(root=tmp_path / "mine").folder == tmp_path / "mine"  # root comes first


def test_mnist_ignores_debian_folder(debian):
    write_split(debian)
    with pytest.raises(cr.ChainruleError, match="MNIST: the training files .* were not found; searched: no folder"):
        MNIST()
    with pytest.raises(cr.ChainruleError, match="holds Fashion-MNIST .*dataset-fashion-mnist.*not MNIST"):
        MNIST(root=debian)


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
@pytest.mark.parametrize("compress", [False, True])
def test_root_layouts(no_debian, tmp_path, cls, layout, compress):
    folder = tmp_path if layout == "flat" else tmp_path / cls.__name__ / "raw"
    images, labels = write_split(folder, train=False, compress=compress)
    ds = cls(root=str(tmp_path), train=False)
    assert ds.folder == folder and len(ds) == 4
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.targets.tolist() == labels.tolist()


def test_split_files_must_sit_together(no_debian, tmp_path):
    write_split(tmp_path / "a")
    (tmp_path / "a" / "train-labels-idx1-ubyte.gz").rename(tmp_path / "train-labels-idx1-ubyte.gz")
    with pytest.raises(cr.ChainruleError, match="were not found"):
        MNIST(root=tmp_path / "a")


def test_missing_fashion_mnist_says_how_to_get_it(no_debian, tmp_path):
    with pytest.raises(cr.ChainruleError) as error:
        FashionMNIST(root=tmp_path, train=False)
    message = str(error.value)
    assert "t10k-images-idx3-ubyte[.gz]" in message and str(tmp_path) in message
    assert "apt-get install dataset-fashion-mnist" in message and "download=True" in message


def test_missing_mnist_names_the_official_files_and_mirrors(no_debian, tmp_path):
    with pytest.raises(cr.ChainruleError) as error:
        MNIST(root=tmp_path)
    message = str(error.value)
    for name, _ in MNIST.resources:
        assert name in message
    assert MNIST.mirrors[0] in message and "not MNIST" in message


# ---------------------------------------------------------------- contents
@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((6, 27, 28), np.uint8), None, r"shape \(6, 27, 28\), not uint8 images of shape \(N, 28, 28\)"),
    (np.zeros((6, 28, 28), np.int16), None, "holds int16 data"),
    (None, np.zeros(5, np.uint8), "not 6 uint8 labels"),
    (None, np.full(6, 10, np.uint8), "holds the label 10; labels must be below 10"),
])
def test_wrong_contents_are_rejected(no_debian, tmp_path, images, labels, message):
    write_split(tmp_path, images=images, labels=labels)
    with pytest.raises(cr.ChainruleError, match=message):
        MNIST(root=tmp_path)


def test_transforms_apply_to_the_tensor_and_the_label(no_debian, tmp_path):
    images, labels = write_split(tmp_path)
    ds = MNIST(root=tmp_path, transform=lambda image: image.reshape(-1) * 2,
               target_transform=lambda label: label + 100)
    image, label = ds[1]
    assert image.shape == (784,) and label == labels[1] + 100
    np.testing.assert_allclose(image.numpy(), images[1].reshape(-1) / 255 * 2, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 784) and yb.tolist() == (labels[:4].astype(int) + 100).tolist()


def test_batched_fetch_equals_per_item_collation(no_debian, tmp_path):
    write_split(tmp_path)
    ds = MNIST(root=tmp_path)
    indices = [5, 0, 3]
    fast, slow = ds.__getbatch__(indices), default_collate([ds[i] for i in indices])
    assert len(fast) == len(slow) == 2
    for a, b in zip(fast, slow):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert fast[0].shape == (3, 1, 28, 28)


def test_pixels_scale_like_torchvision(no_debian, tmp_path):
    torch = require_torch()
    images, _ = write_split(tmp_path)
    ds = MNIST(root=tmp_path)
    expected = torch.from_numpy(images[2]).float().div(255)[None]  # torchvision's ToTensor
    np.testing.assert_array_equal(ds[2][0].numpy(), expected.numpy())


# ---------------------------------------------------------------- download (fetch is replaced: no network)
def official_files(train: bool = True) -> dict[str, bytes]:
    """Small stand-ins for the four official .gz files."""
    files = {}
    for flag in (True, False):
        prefix, n = SPLITS[flag]
        rng = np.random.default_rng(int(flag))
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(rng.integers(0, 256, (n, 28, 28),
                                                                                       dtype=np.uint8)))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(rng.integers(0, 10, n, dtype=np.uint8)))
    return files


@pytest.fixture
def mirrors(monkeypatch, no_debian):
    """Two fake mirrors: ``served[url] = bytes`` (or an exception); records every fetch."""
    files = official_files()
    monkeypatch.setattr(MNIST, "mirrors", ["https://one.example/", "https://two.example/"])
    monkeypatch.setattr(MNIST, "resources", [(name, hashlib.sha256(data).hexdigest()) for name, data in files.items()])
    served: dict[str, object] = {}
    fetched: list[str] = []

    def fetch(url):
        fetched.append(url)
        content = served.get(url, OSError(f"HTTP Error 404: {url}"))
        if isinstance(content, Exception):
            raise content
        return io.BytesIO(content)

    monkeypatch.setattr(mnist, "fetch", fetch)
    return files, served, fetched


def test_download_fetches_checks_and_loads(mirrors, tmp_path):
    files, served, fetched = mirrors
    served.update({"https://one.example/" + name: data for name, data in files.items()})
    ds = MNIST(root=tmp_path, download=True)
    raw = tmp_path / "MNIST" / "raw"
    assert ds.folder == raw and len(ds) == 6
    assert sorted(p.name for p in raw.iterdir()) == sorted(files)  # no temporary file left behind
    assert all((raw / name).read_bytes() == data for name, data in files.items())
    assert len(fetched) == 4
    MNIST(root=tmp_path, train=False, download=True)
    assert len(fetched) == 4  # present files are not fetched again


def test_download_skips_a_mirror_with_a_wrong_checksum_or_an_error(mirrors, tmp_path):
    files, served, fetched = mirrors
    for name, data in files.items():
        served["https://one.example/" + name] = data[:-1] + b"x"  # corrupted on the first mirror
        served["https://two.example/" + name] = data
    served["https://one.example/train-labels-idx1-ubyte.gz"] = ConnectionResetError("connection reset")
    ds = MNIST(root=tmp_path, download=True)
    assert len(ds) == 6 and len(fetched) == 8
    assert sorted(p.name for p in (tmp_path / "MNIST" / "raw").iterdir()) == sorted(files)


def test_download_failure_leaves_nothing_and_explains(mirrors, tmp_path):
    files, served, _ = mirrors
    served.update({"https://one.example/" + name: b"not the file" for name in files})
    with pytest.raises(cr.ChainruleError) as error:
        MNIST(root=tmp_path, download=True)
    message = str(error.value)
    assert "could not get train-images-idx3-ubyte.gz" in message
    assert "https://one.example/train-images-idx3-ubyte.gz: wrong SHA-256" in message
    assert "https://two.example/train-images-idx3-ubyte.gz: HTTP Error 404" in message
    assert list((tmp_path / "MNIST" / "raw").iterdir()) == []


def test_download_needs_a_root(mirrors):
    with pytest.raises(cr.ChainruleError, match="download=True needs root=FOLDER"):
        MNIST(download=True)


def test_download_is_skipped_when_files_are_found(mirrors, tmp_path):
    _, _, fetched = mirrors
    write_split(tmp_path)
    assert len(MNIST(root=tmp_path, download=True)) == 6 and fetched == []


def test_official_checksums_are_sha256():
    for cls in (MNIST, FashionMNIST):
        assert [name for name, _ in cls.resources] == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        assert all(len(digest) == 64 and int(digest, 16) >= 0 for _, digest in cls.resources)
