"""What the Model Registry serves: the generator as an MLflow pyfunc model."""
