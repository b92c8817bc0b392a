"""Every public name stays what it is after every submodule has been imported.

A submodule named like a function its package exports (``prune/structured.py`` defining
``structured`` did) replaces that function on the package when something imports the
submodule; the bug only shows in some test orders, so this test imports everything first. Every
package also keeps the one ``__init__`` style: a ``_EXPORTS`` map, the same names in a literal
``__all__`` (the one mypy reads), bound lazily.
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
    assert shadowed == [], f"{name}: {shadowed} became modules; rename the submodule"


@pytest.mark.parametrize("name", PACKAGES)
def test_one_init_style_and_no_name_equals_a_submodule(name):
    package = importlib.import_module(name)
    exports = package.__dict__.get("_EXPORTS")
    assert exports is not None, f"{name}/__init__.py does not use edgeopt.utils.lazy.lazy_exports"
    listed = [n for n in package.__all__ if n != "__version__"]
    assert sorted(listed) == sorted(exports), f"{name}: __all__ and _EXPORTS differ"
    submodules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert not submodules & set(exports), f"{name}: public names equal to submodules"
