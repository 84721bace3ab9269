"""The registries themselves: entries, errors that list the choices, temporary entries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipeline.config import choice, setting, validate
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
    # entries named by a setting, not a config group: no conf/ folder to point at
    listed: Catalog[int] = Catalog("augmentation", "augment.diffaugment")
    with pytest.raises(PipelineError) as err:
        listed.get("zoom")
    assert "conf/" not in err.value.fix and "augment.diffaugment=<option>" in err.value.fix


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


WIDGETS: Catalog[object] = Catalog("widget", "widget")


@dataclass
class WidgetStage:
    widget: ToySettings = choice(WIDGETS)


def test_a_choice_is_checked_against_the_entrys_schema_and_comes_back_typed():
    cfg = compose_config()
    with WIDGETS.temporarily("toy", object(), ToySettings):
        good = validate({**cfg, "widget": {"name": "toy", "width": 3}}, WidgetStage)
        assert isinstance(good.widget, ToySettings) and good.widget.width == 3
        with pytest.raises(PipelineError, match="'widget.width': 0"):
            validate({**cfg, "widget": {"name": "toy", "width": 0}}, WidgetStage)
        with pytest.raises(PipelineError, match=r"(?s)'widget.colour' is not.*name, width"):
            bad = {**cfg, "widget": {"name": "toy", "width": 3, "colour": "red"}}
            validate(bad, WidgetStage)
