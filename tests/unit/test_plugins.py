"""The registries themselves: entries, errors that list the choices, temporary entries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipeline.config import Choice, setting, validate
from pipeline.errors import PipelineError
from pipeline.plugins import Catalog
from tests.helpers.configs import compose_config


@dataclass
class ToySettings:
    name: str = setting()
    width: int = setting(ge=1)


def test_unknown_entry_lists_choices_and_the_fix():
    catalog: Catalog[int] = Catalog("widget", "widget")
    catalog.add("a", 1)
    catalog.add("b", 2)
    with pytest.raises(PipelineError, match="unknown widget 'c'; choose one of: a, b") as err:
        catalog.get("c")
    assert "conf/widget/" in str(err.value) and "CONTRIBUTING.md" in str(err.value)


def test_the_same_name_twice_is_a_programming_error():
    catalog: Catalog[int] = Catalog("widget", "widget")
    catalog.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        catalog.add("a", 2)


def test_temporary_entry_is_removed_even_on_error():
    catalog: Catalog[int] = Catalog("widget", "widget")
    with pytest.raises(RuntimeError), catalog.temporarily("t", 3):
        assert catalog.get("t") == 3
        raise RuntimeError
    assert "t" not in catalog


def test_a_choice_is_checked_against_the_entrys_schema():
    catalog: Catalog[object] = Catalog("widget", "widget")
    catalog.add("toy", object(), ToySettings)
    cfg = compose_config()
    good = {**cfg, "widget": {"name": "toy", "width": 3}}
    assert validate(good, {"widget": Choice(catalog)}).widget.width == 3
    with pytest.raises(PipelineError, match="'widget.width': 0"):
        validate({**cfg, "widget": {"name": "toy", "width": 0}}, {"widget": Choice(catalog)})
    with pytest.raises(PipelineError, match="widget.colour"):
        bad = {**cfg, "widget": {"name": "toy", "width": 3, "colour": "red"}}
        validate(bad, {"widget": Choice(catalog)})
