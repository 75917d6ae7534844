"""Join the Gemma 3 270M GGUF from its part-packages (the package does the joining)."""

from __future__ import annotations

import importlib
from pathlib import Path

from beadline.agents.errors import ModelNotFoundError


def assemble_gemma(module: str, target: Path) -> Path:
    """Return ``target``, joining the parts into it first when it does not exist yet.

    Raises:
        ModelNotFoundError: a part-package is missing or the joined file is corrupt.
    """
    if target.is_file():
        return target
    package = importlib.import_module(module)
    try:
        return Path(package.assemble(output_path=target))
    except (FileNotFoundError, ModuleNotFoundError, ValueError) as exc:
        raise ModelNotFoundError(
            f"the Gemma model could not be assembled into {target}: {exc}. "
            "Reinstall it with: pip install --force-reinstall 'beadline[gemma]'"
        ) from exc
