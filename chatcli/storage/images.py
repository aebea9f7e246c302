"""Images for the prompt: recognised by their first bytes, sent as OpenAI `image_url` parts holding a base64
`data:` URL, and shown as a one-line placeholder (`[image: photo.png, 812 KB, image/png]`) instead of base64.

A part chatcli made carries its file name under the key `chatcli` (`{"chatcli": {"name": "photo.png"}}`, OWN_PART_KEY);
conversation files and the library keep it, and the request leaves it out (Message.to_api).
"""

from __future__ import annotations

import binascii
from pathlib import Path
from typing import Any, BinaryIO

from chatcli.core.conversation import OWN_PART_KEY, Content, Message
from chatcli.core.errors import UsageError

DETAILS = ("low", "high", "auto")
KINDS = "PNG, JPEG, GIF or WebP"
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
HEAD_BYTES = 12  # enough to recognise every kind above
_CHUNK = 3 << 18  # raw bytes per base64 step: a multiple of 3, so the pieces join without padding


def image_type(head: bytes) -> str | None:
    """The media type of an image that starts with `head` (its first HEAD_BYTES), or None."""
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_part(data_url: str, name: str, detail: str | None = None) -> dict[str, Any]:
    """An OpenAI `image_url` content part, with its file name kept under OWN_PART_KEY."""
    image_url: dict[str, Any] = {"url": data_url}
    if detail is not None:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url, OWN_PART_KEY: {"name": name}}


def read_image(path: Path, media_type: str, max_bytes: int, detail: str | None = None) -> dict[str, Any]:
    """The image at `path` as a content part; larger than `max_bytes` is a UsageError naming the file.

    The base64 text is built piece by piece into one buffer, so the file's bytes are never held whole."""
    label = f"attached image {str(path)!r}"
    try:
        with path.open("rb") as file:
            encoded = _encode(file, max_bytes, f"data:{media_type};base64,")
    except OSError as error:
        raise UsageError(f"{label} cannot be read ({error.strerror}); check the path") from None
    if encoded is None:
        raise UsageError(
            f"{label} is larger than {max_bytes} bytes; raise max_image_bytes in the config to send it"
        )
    return image_part(encoded, path.name, detail)


def image_from_bytes(raw: bytes, name: str, max_bytes: int, detail: str | None = None) -> dict[str, Any]:
    """Image bytes held in memory (the clipboard) as a content part; not an image or too large: UsageError."""
    media_type = image_type(raw[:HEAD_BYTES])
    if media_type is None:
        raise UsageError(f"{name} is not a {KINDS} image")
    if len(raw) > max_bytes:
        raise UsageError(
            f"{name} is larger than {max_bytes} bytes; raise max_image_bytes in the config to send it"
        )
    url = f"data:{media_type};base64," + binascii.b2a_base64(raw, newline=False).decode("ascii")
    return image_part(url, name, detail)


def _encode(file: BinaryIO, max_bytes: int, prefix: str) -> str | None:
    """`prefix` and the base64 of the file's bytes, or None when there are more than `max_bytes`."""
    encoded = bytearray(prefix.encode("ascii"))
    total = 0
    while chunk := file.read(_CHUNK):
        while len(chunk) % 3 and (more := file.read(3 - len(chunk) % 3)):
            chunk += more  # a short read: keep every piece but the last a multiple of 3 bytes
        total += len(chunk)
        if total > max_bytes:
            return None
        encoded += binascii.b2a_base64(chunk, newline=False)
    return encoded.decode("ascii")


# -- showing a part -----------------------------------------------------------------------------------------


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def describe_part(part: dict[str, Any]) -> str:
    """A content part that is not text, in one line: `[image: photo.png, 812 KB, image/png]`."""
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
            length = len(url) - comma - 1
            padding = (url[-1] == "=") + (url[-2] == "=") if length >= 2 else 0
            details.append(human_size(length * 3 // 4 - padding))
        details.append(header.split(";")[0] or "unknown type")
    elif isinstance(url, str):
        details.append(url if len(url) <= 80 else url[:79] + "…")
    return f"[image: {', '.join(details)}]"


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


def _shorten(text: str, width: int) -> str:
    line = " ".join(text.split())
    size = len(text.encode())
    return line if len(line) <= width else f"{line[: width - 1]}… ({size} bytes)"
