"""Every Python example in the README runs, unchanged, as a person would paste it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.weights
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, squeezenet, monkeypatch):
    pytest.importorskip("timm")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(BLOCKS[index], f"README.md example {index + 1}", "exec"), namespace)
