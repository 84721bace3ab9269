"""Reading a TorchScript archive's module tree and tensors without PyTorch.

A TorchScript ``.pt`` file is a zip: ``<root>/data.pkl`` pickles the module tree (each module's
attributes, parameters as tensors that point into storages), ``<root>/data/<key>`` holds each
storage's raw little-endian bytes. This reads both with the standard library and NumPy, so
that the FID Inception weights load into Keras with no PyTorch at run time.
"""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# torch storage class -> NumPy dtype (what the archives we read use)
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


@dataclass
class Module:
    """One module of the tree: its TorchScript class name, plain attributes (stride, padding,
    ...), tensors and sub-modules, each in the order the archive lists them."""

    kind: str  # e.g. "__torch__.inceptionv3.Conv2dLayer"
    attributes: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    children: dict[str, Module] = field(default_factory=dict)

    @property
    def short_kind(self) -> str:
        """The class name with TorchScript's ``___torch_mangle_N`` suffix kept: layers of one
        class with other constants (a 3x3 max-pool of stride 1 or 2) differ only there."""
        return self.kind.removeprefix("__torch__.")


@dataclass(frozen=True)
class _TensorRef:
    storage: tuple[str, str]  # (storage class, key)
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _Object:
    """A pickled TorchScript object: its class name and the state __setstate__ received."""

    kind = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch.jit._pickle" and name.startswith("build_") and name.endswith("list"):
            return list  # build_intlist, build_doublelist, ...: typed lists
        if module == "torch" and name.endswith("Storage"):
            return name
        if module.startswith("__torch__"):
            return type(name, (_Object,), {"kind": f"{module}.{name}"})
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the archive")

    def persistent_load(self, pid: Any) -> tuple[str, str]:
        # ("storage", storage class, key, location, number of elements)
        return str(pid[1]), str(pid[2])


def read_module_tree(path: Path) -> Module:
    """The archive's root module with every tensor as a NumPy array."""
    with zipfile.ZipFile(path) as archive:
        root_dir = next(n for n in archive.namelist() if n.endswith("/data.pkl")).rsplit("/", 1)[0]
        with archive.open(f"{root_dir}/data.pkl") as f:
            root = _Unpickler(f).load()

        def tensor(ref: _TensorRef) -> np.ndarray:
            kind, key = ref.storage
            if kind not in _DTYPES:
                raise ValueError(f"unsupported storage {kind} in {path}")
            raw = np.frombuffer(archive.read(f"{root_dir}/data/{key}"), dtype=_DTYPES[kind])
            count = int(np.prod(ref.size)) if ref.size else 1
            contiguous = tuple(int(np.prod(ref.size[i + 1 :])) for i in range(len(ref.size)))
            if ref.stride != contiguous:
                raise ValueError(f"a non-contiguous tensor in {path}")
            return raw[ref.offset : ref.offset + count].reshape(ref.size).copy()

        def convert(obj: _Object) -> Module:
            module = Module(obj.kind)
            state = getattr(obj, "state", None) or {}
            for name, value in state.items():
                if isinstance(value, _Object):
                    module.children[name] = convert(value)
                elif isinstance(value, _TensorRef):
                    module.tensors[name] = tensor(value)
                else:
                    module.attributes[name] = value
            return module

        return convert(root)
