"""The package's import structure, read from its source: no import cycle (and none held open
by an import inside a function), no private name of another subpackage imported, and torch's
private API read in ``actwidgets/_torch_compat.py`` alone.

The few places that still break a rule are listed by name below (``KNOWN_*``): a new one
fails here, and so does one that is fixed, so that its entry is taken off.
"""

from __future__ import annotations

import ast
from pathlib import Path

import actwidgets

ROOT = Path(actwidgets.__file__).parent

#: Another subpackage's private module or name, still imported: (importer, what).
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str]] = set()
#: torch's private API read outside the compatibility module: (file, name).
KNOWN_TORCH_PRIVATE: set[tuple[str, str]] = set()

#: Private torch names (attributes, or strings handed to getattr).
_TORCH_NAMES = {"_version", "_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs",
                "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called", "_orig_mod",
                "_parameters", "_buffers", "_modules", "_ConvNd", "_NormBase", "_DropoutNd",
                "_MaxPoolNd", "_AvgPoolNd", "_AdaptiveAvgPoolNd", "_AdaptiveMaxPoolNd",
                "DisableTorchFunction", "_global_forward_hooks", "_global_forward_pre_hooks"}

Modules = dict[str, tuple[str, ast.Module]]  # dotted name -> (path in the package, its tree)


def read_package(root: Path) -> Modules:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = (path.relative_to(root).as_posix(),
                                ast.parse(path.read_text(encoding="utf-8")))
    return out


def imports(modules: Modules, name: str) -> list[tuple[str, list[str], bool]]:
    """(module imported, names taken from it, whether inside a function) for each relative
    import of module ``name``; imports under ``if TYPE_CHECKING:`` are left out."""
    path, tree = modules[name]
    base = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and child.level:
                parts = base[:len(base) - child.level + 1] + ([child.module] if child.module else [])
                found.append((".".join(parts), [a.name for a in child.names], inner))
            visit(child, inner)

    visit(tree, False)
    return found


def cycles(modules: Modules) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(module-level imports that are part of a cycle, imports inside functions that would
    close one if they were made at the top)."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    late = []
    for m in modules:
        for target, names, inner in imports(modules, m):
            for t in [f"{target}.{n}" if f"{target}.{n}" in modules else target for n in names]:
                if t not in modules or m.startswith(t + ".") or t.startswith(m + "."):
                    continue  # a package and its own submodules: how a package is put together
                (late.append((m, t)) if inner else edges[m].add(t))

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            m = stack.pop()
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                stack.extend(edges[m])
        return False

    return (sorted((a, b) for a in edges for b in edges[a] if reaches(b, a)),
            sorted((m, t) for m, t in late if reaches(t, m)))


def private_imports(modules: Modules, shared: str) -> set[tuple[str, str]]:
    """(file, module or name) where a module imports a private module or name of another
    subpackage (``shared``, the package's own compatibility module, excepted)."""
    found = set()
    for m, (path, _) in modules.items():
        home = m.split(".")[1:2]
        for target, names, _ in imports(modules, m):
            if target.split(".")[1:2] == home or target == shared:
                continue
            if any(p.startswith("_") for p in target.split(".")[1:]):
                found.add((path, target))
            found.update((path, f"{target}.{n}") for n in names
                         if n.startswith("_") and not n.startswith("__"))
    return found


def torch_private(modules: Modules, shared: str) -> set[tuple[str, str]]:
    """(file, name) where a module other than ``shared`` reads a private torch name."""
    found = set()
    for m, (path, tree) in modules.items():
        if m == shared:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in _TORCH_NAMES:
                found.add((path, node.attr))
            elif isinstance(node, ast.Constant) and node.value in _TORCH_NAMES:
                found.add((path, node.value))  # getattr(module, "_orig_mod")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found.update((path, n) for n in names if n.startswith("torch.") and (
                    any(p.startswith("_") for p in n.split(".")) or n == "torch.nn.modules.module"))
    return found


PACKAGE = read_package(ROOT)
COMPAT = "actwidgets._torch_compat"


def test_no_import_cycle_and_none_held_open_inside_a_function():
    at_the_top, held_open = cycles(PACKAGE)
    assert at_the_top == [], f"module-level import cycles: {at_the_top}"
    assert held_open == [], f"imports inside functions that close a cycle: {held_open}"


def test_no_private_name_of_another_subpackage_is_imported():
    assert private_imports(PACKAGE, COMPAT) == KNOWN_PRIVATE_IMPORTS


def test_torchs_private_api_is_read_only_in_the_compatibility_module():
    assert torch_private(PACKAGE, COMPAT) == KNOWN_TORCH_PRIVATE


def test_the_checks_find_what_they_are_for(tmp_path):
    """A small package that breaks each rule once, and the checks name each break."""
    pkg = tmp_path / "pkg"
    files = {
        "__init__.py": "",
        "_compat.py": "import torch\nV = torch.zeros(1)._version\n",
        "a/__init__.py": "",
        "a/one.py": "from .two import g\n\ndef f():\n    return g()\n",
        "a/two.py": "def g():\n    from .one import f\n    return f\n",
        "a/three.py": "from .four import h\n",
        "a/four.py": "from .three import h\nh = 1\n",
        "b/__init__.py": "",
        "b/_private.py": "X = 1\n",
        "b/c.py": "from .._compat import V\nfrom ..b._private import X\nfrom ..a.one import _hidden\n"
                  "import torch\nfrom torch._subclasses import fake_tensor\n\n"
                  "def f(m):\n    return getattr(m, '_orig_mod'), m._forward_hooks\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    modules = read_package(pkg)
    at_the_top, held_open = cycles(modules)
    assert at_the_top == [("pkg.a.four", "pkg.a.three"), ("pkg.a.three", "pkg.a.four")]
    assert held_open == [("pkg.a.two", "pkg.a.one")]
    assert private_imports(modules, "pkg._compat") == {("b/c.py", "pkg.a.one._hidden")}
    assert torch_private(modules, "pkg._compat") == {
        ("b/c.py", "_orig_mod"), ("b/c.py", "_forward_hooks"), ("b/c.py", "torch._subclasses")}
