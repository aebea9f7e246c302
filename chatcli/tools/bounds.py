"""What chatcli accepts from an MCP server, which is as untrusted as the model: the limits on its messages,
results and tool definitions, the check of its tool list, and its text made one line for the terminal. No I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# One JSON-RPC message (one line of a stdio server's output), and the objects and arrays in it, counted on its
# bytes before it is decoded: decoded, dense JSON takes about ten times its size, so these keep a message well
# inside chatcli's memory promise.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_JSON_CONTAINERS = 100_000
# Over HTTP the SDK builds a whole answer before chatcli can count its content blocks (a couple of KiB each once
# built), so a response's objects and arrays are bounded more tightly.
MAX_HTTP_JSON_CONTAINERS = 20_000
MAX_CONTENT_BLOCKS = 1000  # in one tool result, checked before the SDK builds them
MAX_TOOLS = 128  # per server; the first ones are kept
MAX_TOOL_PAGES = 32  # of a paginated tools/list
MAX_DEFINITION_BYTES = 64 * 1024  # one tool's name, description and input schema, as JSON
MAX_SHOWN_DESCRIPTION = 200  # characters of a description in `chatcli mcp list`
MAX_SHOWN_ERROR = 300  # characters of a server's error text on the terminal
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what the OpenAI and Anthropic APIs accept

# The controls `sanitize` leaves alone because they lay out multi-line text; on a line of its own they could
# start a line that looks like chatcli's, so they are shown as the others are (^I, ^J, ^M).
_LINE_BREAKS = {0x09: "^I", 0x0A: "^J", 0x0D: "^M"}


@dataclass(slots=True)
class Refusals:
    """What chatcli left out of a server's answers, and why it stopped the server (None: it did not), for
    one line each on the terminal."""

    notes: list[str] = field(default_factory=list)
    failure: str | None = None


def one_line(text: str) -> str:
    """`text` on one line: tabs, newlines and carriage returns shown as ^I, ^J, ^M."""
    return text.translate(_LINE_BREAKS)


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def shown_name(name: object) -> str:
    """A name a server gave, quoted, on one line and short, for a message about it."""
    return repr(shorten(one_line(str(name)), 80))


def too_many_blocks(message: Mapping[str, Any]) -> str | None:
    """Why a decoded JSON-RPC message's tool result is refused (more content blocks than chatcli reads)."""
    result = message.get("result")
    content = result.get("content") if isinstance(result, dict) else None
    if isinstance(content, list) and len(content) > MAX_CONTENT_BLOCKS:
        return f"the result has {len(content)} content blocks; chatcli reads at most {MAX_CONTENT_BLOCKS}"
    return None


def first_tools(message: dict[str, Any]) -> str | None:
    """Keep the first MAX_TOOLS of a decoded tools/list result, before the SDK builds them; what was left out."""
    result = message.get("result")
    tools = result.get("tools") if isinstance(result, dict) else None
    if not isinstance(tools, list) or len(tools) <= MAX_TOOLS:
        return None
    assert isinstance(result, dict)
    result["tools"] = tools[:MAX_TOOLS]
    return f"left out {len(tools) - MAX_TOOLS} tools after the first {MAX_TOOLS} (at most {MAX_TOOLS} per server)"


def check_tools(tools: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The tools (name, description, inputSchema) chatcli may offer, and one line for each left out: a name
    outside TOOL_NAME, or a definition over MAX_DEFINITION_BYTES."""
    kept: list[Mapping[str, Any]] = []
    notes: list[str] = []
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            notes.append(f"left out tool {shown_name(name)}: a tool name must be {TOOL_NAME.pattern}")
        elif (size := len(json.dumps(tool, ensure_ascii=False).encode())) > MAX_DEFINITION_BYTES:
            notes.append(
                f"left out tool {name}: its definition has {size} bytes, more than {MAX_DEFINITION_BYTES}"
            )
        else:
            kept.append(tool)
    return kept, notes
