"""The datasets a config can name (`dataset.name`): a table name -> DatasetSpec.

A spec says what the official release is made of (file names and sha256), where copies may lie
and which reader turns it into arrays (by name: a function of pipeline.data.readers, which only
prepare imports); it is registered with the schema of the settings its reader takes
(pipeline.data.settings), so that a key of another source (``image_size`` for
fashion_mnist) is refused. A dataset in a format we already read is one spec here plus a YAML
file in conf/dataset/; a new format is one reader function and its schema too
(CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import DatasetConfig
from pipeline.data.settings import ImageFolderConfig, ReleaseConfig
from pipeline.plugins import Catalog


@dataclass(frozen=True)
class RawFile:
    name: str
    sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset's raw release is made of, where copies of it may lie, and the reader
    that turns it into arrays: the name of a function of pipeline.data.readers (or a function,
    ``reader(spec, settings, raw_dir) -> RawDataset``)."""

    name: str
    reader: str | Callable[..., Any]
    files: tuple[RawFile, ...] = ()
    base_url: str = ""
    class_names: tuple[str, ...] = ()
    image_shape: tuple[int, int, int] | None = None  # a release's (None: set by the settings)
    # Folders other programs install the same files into, searched after the local folder.
    system_dirs: tuple[str, ...] = ()
    # Sub-folder of ~/.keras/datasets where keras.datasets keeps them, and other names it uses.
    keras_cache_dir: str | None = None
    keras_cache_aliases: dict[str, str] = field(default_factory=dict)


DATASETS: Catalog[DatasetSpec] = Catalog("dataset", "dataset")


def dataset(spec: DatasetSpec, schema: type[DatasetConfig] = ReleaseConfig) -> DatasetSpec:
    """Register ``spec`` under its name, with the schema of the settings its reader takes."""
    return DATASETS.add(spec.name, spec, schema)


def image_shape(settings: DatasetConfig) -> tuple[int, int, int]:
    """The (height, width, channels) of the images ``settings`` prepare: a release's own, an
    image folder's image_size and channels."""
    if isinstance(settings, ImageFolderConfig):
        return (settings.image_size, settings.image_size, settings.channels)
    shape = DATASETS.get(settings.name).image_shape
    if shape is None:
        raise ValueError(f"dataset {settings.name} declares no image_shape")
    return shape


FASHION_MNIST = dataset(
    DatasetSpec(
        name="fashion_mnist",
        reader="read_idx_release",
        # The upstream release (zalandoresearch/fashion-mnist) as Keras downloads it; the same files
        # as Debian's dataset-fashion-mnist package.
        files=(
            RawFile(
                "train-images-idx3-ubyte.gz",
                "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
            ),
            RawFile(
                "train-labels-idx1-ubyte.gz",
                "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            ),
            RawFile(
                "t10k-images-idx3-ubyte.gz",
                "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
            ),
            RawFile(
                "t10k-labels-idx1-ubyte.gz",
                "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
            ),
        ),
        base_url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        image_shape=(28, 28, 1),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        keras_cache_dir="fashion-mnist",
    )
)

MNIST = dataset(
    DatasetSpec(
        name="mnist",
        reader="read_idx_release",
        files=(
            RawFile(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            RawFile(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            RawFile(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            RawFile(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ),
        # The mirror TensorFlow uses since yann.lecun.com stopped serving the files.
        base_url="https://storage.googleapis.com/cvdf-datasets/mnist/",
        class_names=tuple(str(d) for d in range(10)),
        image_shape=(28, 28, 1),
        system_dirs=("/usr/share/datasets/mnist",),
        keras_cache_dir="mnist",
    )
)

CIFAR10 = dataset(
    DatasetSpec(
        name="cifar10",
        reader="read_cifar10_release",
        files=(
            RawFile(
                "cifar-10-python.tar.gz",
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            ),
        ),
        base_url="https://www.cs.toronto.edu/~kriz/",
        class_names=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        image_shape=(32, 32, 3),
        keras_cache_dir="",
        # keras.datasets.cifar10 saves the same tarball under another name.
        keras_cache_aliases={"cifar-10-python.tar.gz": "cifar-10-batches-py.tar.gz"},
    )
)


# Your own images: every PNG/JPEG under dataset.raw_dir; the class is the sub-folder's name.
IMAGE_FOLDER = dataset(
    DatasetSpec(name="image_folder", reader="read_image_folder"), ImageFolderConfig
)
