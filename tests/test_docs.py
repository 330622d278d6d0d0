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


def test_the_sites_api_page_lists_the_public_names():
    """docs/api.md's autosummary is ``actwidgets.__all__``, in its order (the site's API
    reference is generated from these names' docstrings)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    block = text.split(":nosignatures:", 1)[1].split("```", 1)[0]
    assert block.split() == list(actwidgets.__all__), (
        "docs/api.md's autosummary list differs from actwidgets.__all__: update the list")
