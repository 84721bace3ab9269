"""Plug-in points: catalogs of named entries, each a table name -> (value, config schema).
("Catalog" because "registry" means the MLflow Model Registry in this project.)

Each catalog lives with the code it holds, so that what imports it is what depends on it:

    pipeline.models.MODELS               name -> builder(model_cfg, image_shape) -> (G, D)
    pipeline.gan.losses.LOSSES           name -> GanLoss(discriminator=..., generator=...)
    pipeline.gan.regularizers.REGULARIZERS  name -> Term(fn(batch, **settings), network, ...)
    pipeline.gan.augment.AUGMENTATIONS   name -> fn(images, seed) -> images
    pipeline.data.specs.DATASETS         name -> DatasetSpec (which names its reader)
    pipeline.evaluation.spaces.FEATURE_SPACES  name -> factory(SpaceContext) -> FeatureSpace
    pipeline.evaluation.scores.FEATURE_SCORES  key -> FeatureScore(metric, fn(generated, real))

The config group of the same name (`conf/model/`, `conf/loss/`, `conf/regularizers/`,
`conf/dataset/`; `augment.diffaugment` for augmentations, `evaluation.features` for feature
spaces) selects entries, and `pipeline.config.validate` checks the selected entry's settings
against the schema it was registered with and returns them as an instance of it:

    @MODELS.register("resnet", ResnetConfig)
    def build_resnet(cfg: ResnetConfig, image_shape): ...

Plug-in modules import TensorFlow only inside their functions, so that validating a config
(which every stage does first) takes milliseconds, not the seconds of a TensorFlow import.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipeline.errors import PipelineError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    schema: type | None  # a dataclass: the entry's settings with their types and ranges


class Catalog(Generic[T]):
    """A table of named plug-ins of one kind, selected by the config group ``group``."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind  # "model", "loss", ... (for messages)
        self.group = group
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, value: T, schema: type | None = None) -> T:
        if name in self._entries and self._entries[name].value is not value:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, value, schema)
        return value

    def register(self, name: str, schema: type | None = None) -> Callable[[T], T]:
        """Decorator form of ``add``."""

        def decorate(value: T) -> T:
            return self.add(name, value, schema)

        return decorate

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    @contextlib.contextmanager
    def temporarily(self, name: str, value: T, schema: type | None = None) -> Iterator[T]:
        """An entry for the duration of a block (tests, notebooks)."""
        self.add(name, value, schema)
        try:
            yield value
        finally:
            self.remove(name)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def entry(self, name: str) -> Entry[T]:
        if name not in self._entries:
            # a config group (conf/model/) or a setting naming entries (augment.diffaugment)
            where = f"an option from conf/{self.group}/" if "." not in self.group else "one"
            raise PipelineError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}",
                f"pick {where} ({self.group}=<option>, or -S {self.group}=<option> with dvc "
                "exp run); CONTRIBUTING.md shows how to add one",
            )
        return self._entries[name]

    def get(self, name: str) -> T:
        return self.entry(name).value


def import_submodules(package: str) -> None:
    """Import every module of ``package`` so that each registers its entries: a new file in
    the package is found without an edit anywhere else."""
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__, f"{package}."):
        importlib.import_module(info.name)
