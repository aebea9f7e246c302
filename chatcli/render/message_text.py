"""Messages as a history shows them (`history show`, the REPL's /history) and as a conversation's title reads:
an image or a document as a one-line placeholder (`[image: photo.png, 812 KB, image/png]`, `[doc.pdf, 2 pages,
120 KB]`) instead of its base64, tool calls and results one short line each."""

from __future__ import annotations

import re
from typing import Any

from chatcli.core.conversation import OWN_PART_KEY, Content, Message
from chatcli.core.shell_command import CommandOutcome, command_of, outcome_of


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def attachment_label(
    name: str, size: int, *, files: int = 1, image: bool = False, part: dict[str, Any] | None = None
) -> str:
    """How the chat lists an attachment: `notes.md (3 KB)`, `photo.png (image)`, `src (12 files, 40 KB)`,
    `doc.pdf (PDF, 2 pages)` for a document `part`."""
    if image:
        return f"{name} (image)"
    if part is not None:
        return f"{name} (PDF, {_pages(part)})"
    count = f"{files} files, " if files != 1 else ""
    return f"{name} ({count}{human_size(size)})"


def describe_part(part: dict[str, Any]) -> str:
    """A content part that is not text, in one line: `[image: photo.png, 812 KB, image/png]`,
    `[doc.pdf, 2 pages, 120 KB]`."""
    if part.get("type") == "file":
        return describe_document(part)
    if part.get("type") != "image_url":
        return f"[{part.get('type')!s:.40} part]"
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    own = part.get(OWN_PART_KEY)
    name = own.get("name") if isinstance(own, dict) else None
    details = [str(name)] if isinstance(name, str) else []
    if isinstance(url, str) and url.startswith("data:") and (comma := url.find(",", 0, 200)) != -1:
        header = url[5:comma]
        if header.endswith(";base64"):
            details.append(human_size(_decoded_size(url, comma)))
        details.append(header.split(";")[0] or "unknown type")
    elif isinstance(url, str):
        details.append(url if len(url) <= 80 else url[:79] + "…")
    return f"[image: {', '.join(details)}]"


def describe_document(part: dict[str, Any]) -> str:
    """A `file` part (a PDF) in one line: `[doc.pdf, 2 pages, 120 KB]`, never its base64."""
    file = part.get("file")
    file = file if isinstance(file, dict) else {}
    own = part.get(OWN_PART_KEY)
    name = own.get("name") if isinstance(own, dict) else None
    name = name if isinstance(name, str) else file.get("filename")
    details = [f"{name:.100}" if isinstance(name, str) else "document"]
    if isinstance(own, dict) and isinstance(own.get("pages"), int):
        details.append(_pages(part))
    data = file.get("file_data")
    if isinstance(data, str) and (comma := data.find(",", 0, 200)) != -1:
        details.append(human_size(_decoded_size(data, comma)))
    return f"[{', '.join(details)}]"


def _pages(part: dict[str, Any]) -> str:
    own = part.get(OWN_PART_KEY)
    pages = own.get("pages") if isinstance(own, dict) else None
    return "pages unknown" if not isinstance(pages, int) else "1 page" if pages == 1 else f"{pages} pages"


def _decoded_size(url: str, comma: int) -> int:
    """The bytes a base64 `data:` URL holds after its comma."""
    length = len(url) - comma - 1
    padding = (url[-1] == "=") + (url[-2] == "=") if length >= 2 else 0
    return length * 3 // 4 - padding


def shown_content(content: Content) -> str:
    """Content as a person reads it: text parts as they are, every other part as a one-line placeholder."""
    if isinstance(content, str):
        return content
    if not content:
        return ""
    return "\n\n".join(
        str(part.get("text", "")) if part.get("type") == "text" else describe_part(part) for part in content
    )


def shown_text(message: Message) -> str:
    """A message as a history shows it: images as placeholders, tool calls and results one short line each."""
    if message.role == "user":
        return shown_content(message.content)
    return compact_text(message)


def compact_text(message: Message, width: int = 100) -> str:
    """A message as a history shows it: tool calls one line each under the text, tool results shortened."""
    if message.role == "tool":
        return f"result: {_shorten(message.text, width)}"
    if message.role == "assistant" and (outcome := outcome_of(message)) is not None:
        return command_text(command_of(message.text), outcome)
    calls = message.extra.get("tool_calls") if message.role == "assistant" else None
    if not isinstance(calls, list):
        return message.text
    lines = [message.text] if message.text else []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            arguments = _shorten(str(function.get("arguments") or ""), width)
            lines.append(f"calls {function.get('name')} {arguments}")
    return "\n\n".join(lines)


def command_text(command: str, outcome: CommandOutcome) -> str:
    """A command `cmd` proposed (without the fence the model may have put around it), as a code block, and
    what became of it."""
    fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", command))])
    said = f"executed, exit status {outcome.exit_status}" if outcome.executed else "not executed"
    return f"{fence}\n{command}\n{fence}\n\n({said})"


def _shorten(text: str, width: int) -> str:
    line = " ".join(text.split())
    size = len(text.encode())
    return line if len(line) <= width else f"{line[: width - 1]}… ({size} bytes)"
