"""The scripted tool-calling chat model for agent tests (moved into the package:
:mod:`beadline.workflows.agent_api.testing`, so ``examples/agent_tool.py`` can use it too)."""

from __future__ import annotations

from beadline.workflows.agent_api.testing import ScriptedToolModel, tool_call

__all__ = ["ScriptedToolModel", "tool_call"]
