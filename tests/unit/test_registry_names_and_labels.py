"""What the registry calls a generator, and how a served generator takes a class: the parts
that need no store (the store's rules: tests/integration/test_model_registry.py)."""

from __future__ import annotations

import pytest


def test_the_registered_name_comes_from_the_evaluated_data_not_the_config():
    """An image folder evaluated while the config still says fashion_mnist is filed under the
    folder's name; a name of the user's own wins; scores that do not name their data stop."""
    from pipeline.errors import PipelineError
    from pipeline.model_registry import registered_name

    assert registered_name(None, "flowers", "eval.json") == "flowers-generator"
    assert registered_name("mine", "flowers", "eval.json") == "mine"
    with pytest.raises(PipelineError, match="eval.json does not name the data"):
        registered_name(None, None, "eval.json")


def test_the_served_model_takes_a_class_by_name_or_number_and_lists_the_classes():
    from mlflow.exceptions import MlflowException

    from pipeline.serving.generator_model import GeneratorModel

    model = GeneratorModel()
    model.num_classes, model.class_names = 3, ["Bag", "Coat", "Sneaker"]
    assert model._label("Sneaker") == 2 and model._label(1) == 1 and model._label("0") == 0
    with pytest.raises(MlflowException, match="'Boot' is not a class; the classes are: 0 'Bag'"):
        model._label("Boot")
    with pytest.raises(MlflowException, match="from 0 to 2"):
        model._label(3)
