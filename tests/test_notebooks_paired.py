"""The tutorials' percent scripts and their notebooks agree, cell for cell.

``notebooks/NN_name.py`` (jupytext's percent format) is the source of a tutorial;
``notebooks/NN_name.ipynb`` is the same notebook with its stored outputs, which nbval runs and
readers open. ``notebooks/jupytext.toml`` pairs them, and ``jupytext --sync notebooks/*.py``
brings a notebook up to date after its script was edited (outputs of unchanged cells are kept).

These tests fail when the two files of a pair differ in their cells (type and source; outputs
and metadata are not compared), or when a script has no notebook or a notebook no script.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from pathlib import Path

import jupytext  # in the test extra: a missing jupytext is an error here, not a skip
import pytest
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: Scripts beside the notebooks that are not notebooks (helpers), by their leading underscore.
SCRIPTS = sorted(p.stem for p in NOTEBOOKS.glob("*.py") if not p.name.startswith("_"))
IPYNBS = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
NAMES = sorted(set(SCRIPTS) | set(IPYNBS))

SYNC = "jupytext --sync notebooks/*.py"


def _cells(path: Path, fmt: str) -> list[tuple[str, str]]:
    nb = jupytext.read(path, fmt=fmt)
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def _describe(kind: str, source: str) -> str:
    first = source.splitlines()[0] if source else "(empty)"
    return f"{kind} cell starting {first!r}"


def test_the_tutorials_are_there():
    # Guards the parametrised test below against passing vacuously (an empty parameter set).
    assert SCRIPTS, f"no percent scripts found in {NOTEBOOKS}"
    assert IPYNBS, f"no notebooks found in {NOTEBOOKS}"


def test_every_script_has_its_notebook_and_every_notebook_its_script():
    scripts, ipynbs = set(SCRIPTS), set(IPYNBS)
    problems = [f"notebooks/{n}.py has no notebooks/{n}.ipynb" for n in sorted(scripts - ipynbs)]
    problems += [f"notebooks/{n}.ipynb has no notebooks/{n}.py" for n in sorted(ipynbs - scripts)]
    assert not problems, (
        "unpaired tutorial files:\n  " + "\n  ".join(problems)
        + f"\n(create the missing file with `{SYNC}` or `jupytext --sync notebooks/*.ipynb`)"
    )


def test_scripts_are_not_collected_as_test_modules():
    # pytest collects notebooks/ (for nbval); a script named like a test module would be
    # imported, i.e. run, as one.
    for name in SCRIPTS:
        assert not (fnmatch.fnmatch(f"{name}.py", "test_*.py") or name.endswith("_test")), (
            f"notebooks/{name}.py would be collected by pytest as a test module: rename it"
        )


def test_jupytext_pairs_the_notebooks_with_percent_scripts():
    config_file = find_jupytext_configuration_file(str(NOTEBOOKS))
    assert config_file, "no jupytext configuration file pairs notebooks/ (notebooks/jupytext.toml)"
    config = load_jupytext_configuration_file(config_file)
    formats = config.formats
    formats = formats if isinstance(formats, str) else repr(formats)
    assert "ipynb" in formats and "py:percent" in formats, (
        f"{config_file} should pair notebooks as 'ipynb,py:percent', it says {formats!r}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_script_and_notebook_have_the_same_cells(name: str):
    script, notebook = NOTEBOOKS / f"{name}.py", NOTEBOOKS / f"{name}.ipynb"
    if not (script.exists() and notebook.exists()):
        pytest.fail(f"notebooks/{name}: only one of the .py and the .ipynb exists (see the test above)")

    from_script = _cells(script, "py:percent")
    from_notebook = _cells(notebook, "ipynb")
    hint = (f"notebooks/{name}.py and notebooks/{name}.ipynb differ; after editing the script, "
            f"run `{SYNC}` (or save the notebook in JupyterLab with jupytext installed)")

    # Cell counts may differ: the shorter list is compared here, the extra cells named below.
    for i, (a, b) in enumerate(zip(from_script, from_notebook, strict=False)):
        if a == b:
            continue
        if a[0] != b[0]:
            pytest.fail(f"{hint}\ncell {i}: a {a[0]} cell in the .py, a {b[0]} cell in the .ipynb")
        diff = "\n".join(difflib.unified_diff(
            b[1].splitlines(), a[1].splitlines(), f"{name}.ipynb cell {i}", f"{name}.py cell {i}",
            lineterm="", n=1))
        pytest.fail(f"{hint}\ncell {i} ({a[0]}) differs:\n{diff}")

    if len(from_script) != len(from_notebook):
        longer, extra = (("the .py", from_script[len(from_notebook):])
                         if len(from_script) > len(from_notebook)
                         else ("the .ipynb", from_notebook[len(from_script):]))
        pytest.fail(
            f"{hint}\n{len(from_script)} cells in the .py, {len(from_notebook)} in the .ipynb; "
            f"{longer} goes on with the {_describe(*extra[0])}"
        )


# --------------------------------------------------------------------------- lessons and outputs

#: The notebooks that keep their outputs (real weights, or a network trained in the notebook),
#: as the README's Tutorials section says; the others are kept without any.
WITH_OUTPUTS = {"00_explorer", "01_squeezenet_activations", "02_googlenet_activations", "07_layer_concepts",
                "04_your_own_cnn", "05_googlenet_feature_visualization", "06_what_makes_a_channel_fire"}


def _outputs(name: str) -> list[dict]:
    nb = jupytext.read(NOTEBOOKS / f"{name}.ipynb", fmt="ipynb")
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


@pytest.mark.parametrize("name", IPYNBS)
def test_outputs_are_stored_where_the_readme_says(name: str):
    outputs = _outputs(name)
    if name in WITH_OUTPUTS:
        assert outputs, f"notebooks/{name}.ipynb should keep its outputs (executed with real weights)"
        errors = [o for o in outputs if o.get("output_type") == "error"]
        assert not errors, f"notebooks/{name}.ipynb keeps an error output: {errors[0].get('ename')}"
        figures = sum("image/png" in o.get("data", {}) for o in outputs)
        cells = jupytext.read(NOTEBOOKS / f"{name}.py", fmt="py:percent").cells
        plots = sum("plt.show()" in c.source for c in cells)
        assert figures >= plots, (f"notebooks/{name}.ipynb has {figures} figures for {plots} cells that "
                                  "show one: was it executed with MPLBACKEND=Agg? Execute it again without")
    else:
        assert not outputs, f"notebooks/{name}.ipynb should have no outputs (it runs on random weights in CI)"


def test_the_readme_names_the_notebooks_with_outputs():
    readme = (NOTEBOOKS.parent / "README.md").read_text(encoding="utf-8")
    stored = sorted(n[:2] for n in WITH_OUTPUTS)
    sentence = "Outputs are stored only where"
    assert sentence in readme
    said = readme.split(sentence, 1)[1].split("`03` is kept without outputs", 1)[0]
    assert sorted(set(re.findall(r"`(\d\d)`", said))) == stored, said


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_tutorial_is_a_lesson(name: str):
    """Goals, prerequisites and time up front; predictions before claims (not in the app);
    exercises with folded solutions at the end."""
    text = (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8")
    head = text[:6000]
    assert "What you will learn" in head and "What you need" in head and "How long" in head, (
        f"notebooks/{name}.py should open with what the student will learn, what they need "
        "and how long it takes")
    assert text.count("<details>") >= 2 and text.count("<details>") == text.count("</details>"), (
        f"notebooks/{name}.py should end with exercises whose solutions are folded in <details> blocks")
    if name != "00_explorer":
        assert "**Predict.**" in text, f"notebooks/{name}.py should ask the reader to predict before a claim"
