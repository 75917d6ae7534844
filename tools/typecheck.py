"""Run mypy (strict) on the three code folders under their installed names ``beadline.*``.

mypy cannot follow setuptools' editable-install import hook, so this builds a throw-away tree
``build/typecheck/beadline/{agents,validators,workflows}`` of symbolic links and checks that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("agents", "validators", "workflows")


def main() -> int:
    tree = ROOT / "build" / "typecheck"
    package = tree / "beadline"
    package.mkdir(parents=True, exist_ok=True)
    for layer in LAYERS:
        link = package / layer
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(ROOT / layer, target_is_directory=True)
    env = {**os.environ, "MYPYPATH": str(tree)}
    args = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    for layer in LAYERS:
        args += ["-p", f"beadline.{layer}"]
    return subprocess.call(args, cwd=tree, env=env)


if __name__ == "__main__":
    sys.exit(main())
