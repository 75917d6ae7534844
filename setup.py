"""Map the repository's three code folders onto the ``beadline.*`` import names.

The design card fixes the layout (``agents/``, ``validators/``, ``workflows/`` at the
repository root) while the import names must be ``beadline.agents`` and so on: bare
``agents``/``validators`` belong to other popular packages. Every folder below those three
that holds an ``__init__.py`` is mapped, so adding a subpackage needs no edit here.
All other metadata lives in ``pyproject.toml``.
"""

from __future__ import annotations

from setuptools import find_packages, setup

_LAYERS = ("agents", "validators", "workflows")


def _package_dirs() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for layer in _LAYERS:
        for package in find_packages(include=[layer, f"{layer}.*"]):
            mapping[f"beadline.{package}"] = package.replace(".", "/")
    return mapping


_DIRS = _package_dirs()

setup(packages=sorted(_DIRS), package_dir=_DIRS)
