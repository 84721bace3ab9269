"""The registered generator as an MLflow pyfunc model: (num_images, seed) -> images.

MLflow stores this file with the model ("models from code"), so loading or serving the model
needs mlflow, keras and numpy, and nothing from this repository:

    model = mlflow.pyfunc.load_model("models:/fashion_mnist-generator@champion")
    images = model.predict(pd.DataFrame({"num_images": [16], "seed": [0]}))  # (16, 28, 28, 1)
    shoes = model.predict(pd.DataFrame({"num_images": [8], "seed": [0], "label": [7]}))

Images come back as float32 NHWC in [-1, 1]. The same seed gives the same images. A
class-conditional generator takes an optional ``label`` (0..K-1) per row; without one its images
cycle through the classes. An unconditional one refuses a label.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE


def _bad_request(message: str) -> MlflowException:
    # INVALID_PARAMETER_VALUE becomes HTTP 400 in `mlflow models serve`.
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


class GeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        import keras

        self.generator = keras.models.load_model(context.artifacts["generator"], compile=False)
        self.latent_dim = int(self.generator.inputs[0].shape[-1])
        # Conditional generators take [noise, label]; their label embedding knows K.
        self.num_classes = (
            int(self.generator.get_layer("label_embedding").input_dim)
            if len(self.generator.inputs) > 1
            else 0
        )
        # Set from registry.max_images when the model is registered (pipeline.model_registry).
        self.max_images = int(context.model_config["max_images"])

    def predict(self, context, model_input, params=None):
        rows = model_input.to_dict(orient="records")
        if not rows:
            raise _bad_request("send at least one row with num_images and seed")
        requested = 0
        batches = []
        for row in rows:
            label = row.get("label")
            if label is not None and isinstance(label, float) and np.isnan(label):
                label = None
            if label is not None and not self.num_classes:
                raise _bad_request("this generator is unconditional: leave out 'label'")
            if label is not None and not (
                float(label).is_integer() and 0 <= int(label) < self.num_classes
            ):
                raise _bad_request(
                    f"label must be a class number from 0 to {self.num_classes - 1} (got {label})"
                )
            num_images, seed = int(row["num_images"]), int(row["seed"])
            requested += num_images
            if num_images < 1 or requested > self.max_images:
                raise _bad_request(
                    f"num_images must be between 1 and {self.max_images} per request "
                    f"(got {num_images}, {requested} in all)"
                )
            if seed < 0:
                raise _bad_request(f"seed must be 0 or more (got {seed})")
            noise = np.random.default_rng(seed).standard_normal((num_images, self.latent_dim))
            noise = noise.astype("float32")
            if self.num_classes:
                labels = (
                    np.full(num_images, int(label), "int32")
                    if label is not None
                    else (np.arange(num_images) % self.num_classes).astype("int32")
                )
                images = self.generator([noise, labels], training=False)
            else:
                images = self.generator(noise, training=False)
            batches.append(np.asarray(images, dtype=np.float32))
        return np.concatenate(batches)


mlflow.models.set_model(GeneratorModel())
