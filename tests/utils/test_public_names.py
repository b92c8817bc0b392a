"""Every public name stays what it is after every submodule has been imported.

A submodule named like a function its package exports (``prune/structured.py`` defining
``structured``) replaces that function on the package when something imports the submodule;
the bug only shows in some test orders, so this test imports everything first.
"""

import importlib
import pkgutil
import types

import pytest

import edgeopt

PACKAGES = ["edgeopt", *sorted(f"edgeopt.{m.name}" for m in pkgutil.iter_modules(edgeopt.__path__) if m.ispkg)]


def _import_all(package: types.ModuleType) -> None:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_are_not_shadowed_by_submodules(name):
    package = importlib.import_module(name)
    _import_all(package)
    shadowed = [n for n in getattr(package, "__all__", []) if isinstance(getattr(package, n), types.ModuleType)]
    assert shadowed == [], f"{name}: {shadowed} became modules; rename the submodule or bind the name eagerly"
