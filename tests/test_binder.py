"""Binder's ``postBuild`` caches exactly the weights the notebooks load, SHA-checked.

The notebooks' ``aw.load_model(...)`` calls and postBuild's are read with ``ast`` (nothing is
run or downloaded) and reduced to (network, weights) pairs, ``weights`` defaulting to
``"DEFAULT"`` as in ``load_model``. The two sets must be equal: a notebook that loads a
network postBuild does not cache makes a Binder user wait (or fail offline); a network cached
for no notebook makes the image larger for nothing. Every Caffe network cached must have a
published SHA-1 in the zoo (checked on download), and postBuild must refuse random weights.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from actwidgets.model.zoo import ZOO

REPO = Path(__file__).resolve().parents[1]
POSTBUILD = REPO / "binder" / "postBuild"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))


def load_calls(source: str, where: str) -> set[tuple[str, str]]:
    """The (network, weights) of every ``load_model(...)`` call in Python ``source``."""
    pairs = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if getattr(node.func, "attr", getattr(node.func, "id", None)) != "load_model":
            continue
        args = {kw.arg: kw.value for kw in node.keywords}
        name = node.args[0] if node.args else args.get("name")
        weights = node.args[1] if len(node.args) > 1 else args.get("weights", ast.Constant("DEFAULT"))
        for what, value in (("network", name), ("weights", weights)):
            if not isinstance(value, ast.Constant):
                pytest.fail(f"{where}, line {node.lineno}: load_model's {what} is not a literal; "
                            "write it out so that Binder's cache list can be checked")
        pairs.add((name.value, weights.value))
    return pairs


def postbuild_python() -> str:
    text = POSTBUILD.read_text()
    match = re.search(r"python - <<'PY'\n(.*?)\nPY\n", text, re.S)
    assert match, "binder/postBuild has no `python - <<'PY' ... PY` block"
    return match.group(1)


def test_the_parser_reads_literal_calls_and_refuses_others():
    src = ('import actwidgets as aw\na = aw.load_model("squeezenet", weights="caffe")\n'
           'b = aw.load_model("vgg16", head=False)\n')
    assert load_calls(src, "x") == {("squeezenet", "caffe"), ("vgg16", "DEFAULT")}
    with pytest.raises(pytest.fail.Exception, match="not a literal"):
        load_calls("w = 'caffe'\naw.load_model('squeezenet', weights=w)\n", "x")


def test_postbuild_caches_exactly_what_the_notebooks_load():
    assert NOTEBOOKS, "no tutorial scripts found"
    wanted = set().union(*(load_calls(p.read_text(), p.name) for p in NOTEBOOKS))
    cached = load_calls(postbuild_python(), "binder/postBuild")
    assert wanted, "the notebooks load no network: the parser found no load_model call"
    assert cached == wanted, (
        f"binder/postBuild caches {sorted(cached)}, the notebooks load {sorted(wanted)}: "
        f"missing {sorted(wanted - cached)}, not needed {sorted(cached - wanted)}")


def test_caffe_downloads_are_sha1_checked():
    for name, weights in load_calls(postbuild_python(), "binder/postBuild"):
        if weights == "caffe":
            sha1 = ZOO[name].caffe.sha1
            assert sha1 and re.fullmatch(r"[0-9a-f]{40}", sha1), (
                f"{name}'s .caffemodel has no SHA-1 in the zoo")


def test_postbuild_refuses_random_weights():
    text = POSTBUILD.read_text()
    assert "unset ACTWIDGETS_RANDOM_WEIGHTS" in text
    assert "assert net.pretrained" in postbuild_python()
    assert text.startswith("#!/bin/bash") and "set -euo pipefail" in text
