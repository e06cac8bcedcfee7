"""The package's imports run one way: core <- reporter <- integrations <- testing
helpers <- command.

Walks every module of the package with ``ast`` (imports inside functions count
too), so that a new module or a new import is held to the rule without anyone
updating a list by hand.
"""
import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "apptuit_like"

# A wing may import its own modules and those of lower rank, never higher.
RANKS = {"core": 0, "reporter": 1, "integrations": 2, "testing": 3, "command": 4}
THIRD_PARTY_OF_THE_REPORTER = {"pyformance"}


def wing(module: str) -> str:
    """The wing of a dotted module name inside the package."""
    parts = module.split(".")[1:]
    if not parts:
        return "core"
    if parts[0] == "pyformance":
        return "reporter"
    if parts[0] == "integrations":
        return "integrations"
    if parts[0] in ("_cli", "__main__"):
        return "command"
    if parts[0] == "testing":
        return "testing"
    return "core"


def module_name(path: pathlib.Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: pathlib.Path):
    """(line, absolute module) for every import statement in a file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.lineno, node.module
                continue
            base = package.split(".")
            base = base[:len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                yield node.lineno, target
            else:  # from . import a, b: each name may be a module
                for alias in node.names:
                    yield node.lineno, target + "." + alias.name


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_walk_sees_every_wing():
    wings = {wing(module_name(path)) for path in MODULES}
    assert wings == set(RANKS)
    assert len(MODULES) > 15


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path):
    here = wing(module_name(path))
    wrong = []
    for line, target in imports_of(path):
        top = target.split(".")[0]
        if top == "apptuit_like":
            there = wing(target)
            if RANKS[there] > RANKS[here]:
                wrong.append("line %d: %s (%s) imports %s (%s)"
                             % (line, module_name(path), here, target, there))
        elif here == "core" and top in THIRD_PARTY_OF_THE_REPORTER:
            wrong.append("line %d: core module %s imports %s" % (line, module_name(path), top))
    assert not wrong, "\n".join(wrong)


def test_version_module_imports_nothing_of_the_package():
    found = [target for _, target in imports_of(PACKAGE / "version.py")]
    assert found == []


def test_the_client_alone_does_not_import_pyformance_or_the_command():
    code = ("import sys, apptuit_like; from apptuit_like import Apptuit, DataPoint;"
            "print(sorted(m for m in sys.modules if m.split('.')[:2] in"
            " (['pyformance'], ['apptuit_like', 'pyformance'], ['apptuit_like', '_cli'])))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_pyformance_attribute_still_resolves_as_in_apptuit_py():
    code = ("import apptuit_like; print(apptuit_like.pyformance.ApptuitReporter.__name__,"
            " apptuit_like.pyformance.apptuit_reporter.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["ApptuitReporter", "apptuit_like.pyformance.apptuit_reporter"]
