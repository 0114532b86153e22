"""The package layout's rules, read from the code's own imports."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sciseek"
# The flow: a package imports only from packages on an earlier layer (or its own).
LAYERS = [
    {"errors"},
    {"ingest"},
    {"storage"},
    {"index"},
    {"search"},
    {"quality", "digests", "harvest", "export"},
    {"library"},
    {"web"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield path, parts, ast.parse(path.read_text(encoding="utf-8"))


def _imports(parts: tuple[str, ...], tree: ast.AST):
    """(line, absolute module, imported names) of every sciseek import in a module."""
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            if module.split(".")[0] == "sciseek":
                yield node.lineno, module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "sciseek":
                    yield node.lineno, a.name, []


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_belongs_to_a_layer():
    for path, parts, _ in _modules():
        if len(parts) > 2:
            assert parts[1] in RANK, f"{path}: package {parts[1]} is in no layer"
        else:
            assert parts[1] in ("__init__", "__main__", "errors"), f"{path}: loose module"


def test_no_package_imports_from_a_package_later_in_the_flow():
    wrong, seen = [], 0
    for path, parts, tree in _modules():
        if len(parts) < 3:
            continue  # the top-level faces and the error tree
        own = RANK[parts[1]]
        for line, module, names in _imports(parts, tree):
            seen += 1
            target = _package_of(module)
            if module == "sciseek" and names == ["__version__"]:
                continue
            if target is None:
                wrong.append(f"{path}:{line}: imports the package face {module}")
            elif target != parts[1] and RANK.get(target, -1) >= own:
                wrong.append(f"{path}:{line}: {parts[1]} imports {module}")
    assert seen > 100, "the scan found too few imports to mean anything"
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_another_modules_private_name():
    wrong = []
    for path, parts, tree in _modules():
        for line, module, names in _imports(parts, tree):
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    wrong.append(f"{path}:{line}: from {module} import {name}")
    assert not wrong, "\n".join(wrong)
