"""The registered generator as an MLflow pyfunc model: (num_images, seed) -> images.

MLflow stores this file with the model ("models from code"), so loading or serving the model
needs mlflow, keras and numpy, and nothing from this repository:

    model = mlflow.pyfunc.load_model("models:/fashion_mnist-generator@champion")
    images = model.predict(pd.DataFrame({"num_images": [16], "seed": [0]}))  # (16, 28, 28, 1)

Images come back as float32 NHWC in [-1, 1]. The same seed gives the same images.
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
        self.latent_dim = int(self.generator.input_shape[-1])
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
            if label is not None and not (isinstance(label, float) and np.isnan(label)):
                raise _bad_request("this generator is unconditional: leave out 'label'")
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
            images = self.generator(noise.astype("float32"), training=False)
            batches.append(np.asarray(images, dtype=np.float32))
        return np.concatenate(batches)


mlflow.models.set_model(GeneratorModel())
