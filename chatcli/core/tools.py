"""The ToolRunner protocol: how a turn offers tools and runs the calls the model asks for (implemented over
MCP in chatcli.tools; the rounds of calls are chatcli.core.turn's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from chatcli.core.stream import ToolCall


class ToolRunner(Protocol):
    """Offers tools to the model and runs the calls it asks for, each approved first."""

    max_rounds: int  # the most rounds of calls in one turn

    def definitions(self) -> Sequence[Mapping[str, Any]]:
        """The OpenAI function tools to offer now (starting their servers the first time); empty: none."""

    def run(self, call: ToolCall) -> str:
        """Approve and run `call`; the text the model gets back (a refusal or a failure is a result too).

        Ctrl-C cancels the call and re-raises KeyboardInterrupt; a ChatError fails the turn."""
