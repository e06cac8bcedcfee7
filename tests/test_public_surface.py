"""The package's written public surface. A public module (no part of its path
starts with an underscore) declares ``__all__``; every name in it resolves; every
class and function of this package that the module shows under a public name is
in its ``__all__``, in another public module's (``encode_metric`` where it is
used), or is one of the names apptuit-py's module of the same path has
(tests/test_apptuit_surface.py checks those against apptuit 2.4.2). The rest of
the package lives in private modules (``_transport``, ``pyformance._collect``).
"""
import importlib
import inspect
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "apptuit_like"
# apptuit-py's modules of the same paths, and the names they show
APPTUIT = {
    "apptuit_like": "apptuit", "apptuit_like.apptuit_client": "apptuit.apptuit_client",
    "apptuit_like.timeseries": "apptuit.timeseries", "apptuit_like.utils": "apptuit.utils",
    "apptuit_like.pyformance": "apptuit.pyformance",
    "apptuit_like.pyformance.apptuit_reporter": "apptuit.pyformance.apptuit_reporter",
    "apptuit_like.pyformance.process_metrics": "apptuit.pyformance.process_metrics"}


def public_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] == "__main__" or any(part.startswith("_") for part in parts):
            continue
        yield ".".join(parts)


PUBLIC = list(public_modules())


def declared_anywhere():
    """The objects some public module declares: a public name for them exists."""
    found = set()
    for name in PUBLIC:
        module = importlib.import_module(name)
        found.update(id(getattr(module, n)) for n in getattr(module, "__all__", ())
                     if hasattr(module, n))
    return found


def apptuit_names(name):
    if name not in APPTUIT:
        return set()
    theirs = importlib.import_module(APPTUIT[name])
    return {n for n in dir(theirs) if not n.startswith("_")}


def test_the_public_modules_are_the_documented_ones():
    assert set(APPTUIT) <= set(PUBLIC)
    assert {"apptuit_like.errors", "apptuit_like.testing", "apptuit_like.integrations.asgi",
            "apptuit_like.pyformance.stop_signals"} <= set(PUBLIC)
    assert not any(name.split(".")[-1] in ("transport", "encoding", "collect", "merge")
                   for name in PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_a_public_module_shows_its_all_and_apptuit_pys_names_only(name):
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, "%s has no __all__" % name
    assert [n for n in declared if not hasattr(module, n)] == []
    ours, elsewhere = set(), declared_anywhere()
    for attribute, value in vars(module).items():
        if attribute.startswith("_") or inspect.ismodule(value):
            continue
        if (inspect.isclass(value) or inspect.isfunction(value)) and (
                getattr(value, "__module__", "") or "").startswith("apptuit_like"):
            if value.__module__ == name or id(value) not in elsewhere:
                ours.add(attribute)
    undeclared = ours - set(declared) - apptuit_names(name)
    assert undeclared == set(), "%s shows %s without declaring them" % (name, sorted(undeclared))
