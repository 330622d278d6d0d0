"""The docstrings' examples run: every module's doctests pass."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import actwidgets

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(actwidgets.__path__, prefix="actwidgets.")
    if m.name != "actwidgets.__main__"
)


def test_every_module_is_found():
    assert {"actwidgets.extract", "actwidgets.widgets.explorer", "actwidgets.featurevis.optimize"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_public_names_exist_and_are_documented():
    for name in actwidgets.__all__:
        obj = getattr(actwidgets, name)
        if callable(obj):
            assert obj.__doc__, f"actwidgets.{name} has no docstring"
