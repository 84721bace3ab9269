"""The registered generator as an MLflow pyfunc model: (num_images, seed) -> images.

MLflow stores this file with the model ("models from code"), so loading or serving the model
needs mlflow, keras and numpy, and nothing from this repository:

    model = mlflow.pyfunc.load_model("models:/fashion_mnist-generator@champion")
    images = model.predict(pd.DataFrame({"num_images": [16], "seed": [0]}))  # (16, 28, 28, 1)
    shoes = model.predict(pd.DataFrame({"num_images": [8], "seed": [0], "label": [7]}))

Images come back as float32 NHWC in [-1, 1]. The same seed gives the same images. A
class-conditional generator takes an optional ``label`` per row, a class number (0..K-1) or a
class name ("Sneaker"); without one its images cycle through the classes. An unconditional one
refuses a label.

With ``params={"format": "png"}`` the answer is a table instead, one row an image: ``row`` (the
request row it answers), ``label`` (its class's name, or None for an unconditional generator)
and ``png`` (the image as a base64-encoded PNG file, 8 bits a channel).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE


def _bad_request(message: str) -> MlflowException:
    # INVALID_PARAMETER_VALUE becomes HTTP 400 in `mlflow models serve`.
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


class GeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        import keras

        self.generator = keras.models.load_model(context.artifacts["generator"], compile=False)
        self.latent_dim = int(self.generator.inputs[0].shape[-1])
        # Conditional generators take [noise, label]; their label embedding knows K.
        self.num_classes = (
            int(self.generator.get_layer("label_embedding").input_dim)
            if len(self.generator.inputs) > 1
            else 0
        )
        # Set when the model is registered (pipeline.model_registry): registry.max_images, and
        # the data's class names (empty for models registered before they were recorded).
        self.max_images = int(context.model_config["max_images"])
        self.class_names = list(context.model_config.get("class_names") or [])

    # The input's type hint: a DataFrame is what the model takes, and MLflow then neither infers
    # a schema from it nor warns that a type hint is missing (the signature is logged as given).
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: Any = None
    ) -> np.ndarray | pd.DataFrame:
        form = (params or {}).get("format") or "array"
        if form not in FORMATS:
            raise _bad_request(f"format must be one of {', '.join(FORMATS)} (got {form!r})")
        rows = model_input.to_dict(orient="records")
        if not rows:
            raise _bad_request("send at least one row with num_images and seed")
        # Every row is checked before any image is made: a bad last row costs nothing.
        requests = [self._checked(row) for row in rows]
        total = sum(request[0] for request in requests)
        if total > self.max_images:
            raise _bad_request(
                f"at most {self.max_images} images per request (asked for {total} in all)"
            )
        made = [self._generate(*request) for request in requests]
        images = np.concatenate([images for images, _ in made])
        if form == "array":
            return images
        return pd.DataFrame(
            {
                "row": np.concatenate(
                    [np.full(len(labels), i) for i, (_, labels) in enumerate(made)]
                ),
                "label": [self._name(label) for _, labels in made for label in labels],
                "png": [_png(image) for image in images],
            }
        )

    def _name(self, label: int | None) -> str | None:
        if label is None:
            return None
        return self.class_names[label] if label < len(self.class_names) else str(label)

    def _checked(self, row: Any) -> tuple[int, int, int | None, float]:
        num_images = _integer(row.get("num_images"), "num_images", 1, self.max_images)
        seed = _integer(row.get("seed"), "seed", 0, 2**63 - 1)
        truncation = _truncation(row.get("truncation"))
        label = row.get("label")
        if _missing(label):
            return num_images, seed, None, truncation  # no label: every class in turn
        if not self.num_classes:
            raise _bad_request("this generator is unconditional: leave out 'label'")
        return num_images, seed, self._label(label), truncation

    def _label(self, value: Any) -> int:
        """A class number, or a class name (or a number written as text, as a command line
        gives it); a 400 that lists the classes otherwise."""
        if isinstance(value, str):
            if value in self.class_names:
                return self.class_names.index(value)
            if value.strip().isdigit():
                value = int(value)
            else:
                classes = (
                    ", ".join(f"{i} {name!r}" for i, name in enumerate(self.class_names))
                    or f"numbers 0 to {self.num_classes - 1}"
                )
                raise _bad_request(f"label {value!r} is not a class; the classes are: {classes}")
        return _integer(value, "label", 0, self.num_classes - 1, "a class number or name")

    def _generate(
        self, num_images: int, seed: int, label: int | None, truncation: float
    ) -> tuple[np.ndarray, list[int | None]]:
        """The images of one request row, and the class of each (None: unconditional)."""
        noise = np.random.default_rng(seed).standard_normal((num_images, self.latent_dim))
        noise = (truncation * noise).astype("float32")
        if not self.num_classes:
            images = self.generator(noise, training=False)
            return np.asarray(images, dtype=np.float32), [None] * num_images
        labels = (
            np.full(num_images, label, "int32")
            if label is not None
            else (np.arange(num_images) % self.num_classes).astype("int32")
        )
        images = self.generator([noise, labels], training=False)
        return np.asarray(images, dtype=np.float32), [int(k) for k in labels]


FORMATS = ("array", "png")


def _png(image: np.ndarray) -> str:
    """One NHWC image in [-1, 1] as a base64-encoded 8-bit PNG (grey for one channel)."""
    from PIL import Image

    pixels = np.clip(np.rint((image + 1.0) * 127.5), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _missing(value: Any) -> bool:
    """Left out: absent, JSON null, or the NaN a DataFrame fills a missing cell with."""
    return value is None or (isinstance(value, float | np.floating) and np.isnan(value))


def _truncation(value: Any) -> float:
    if _missing(value):
        return 1.0
    number = float(value) if isinstance(value, int | float | np.number) else None
    if number is None or isinstance(value, bool) or not 0 < number <= 1:
        raise _bad_request(f"truncation must be a number in (0, 1] (got {value!r})")
    return number


def _integer(value: Any, name: str, low: int, high: int, what: str = "an integer") -> int:
    """``value`` as an int in [low, high], or a 400 naming the value: 1.5, "3", 1e30 and a
    missing value are refused, never truncated or wrapped around."""
    whole = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    integral = isinstance(value, float | np.floating) and np.isfinite(value) and value.is_integer()
    number = int(value) if whole or integral else None
    if number is None or not low <= number <= high:
        shown = float(value) if isinstance(value, np.floating) else value
        raise _bad_request(f"{name} must be {what} from {low} to {high} (got {shown!r})")
    return number


mlflow.models.set_model(GeneratorModel())
