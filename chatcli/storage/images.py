"""Images for the prompt: recognised by their first bytes, sent as OpenAI `image_url` parts holding a base64
`data:` URL (render.message_text shows one as a one-line placeholder instead of its base64).

A part chatcli made carries its file name under the key `chatcli` (`{"chatcli": {"name": "photo.png"}}`, OWN_PART_KEY);
conversation files and the library keep it, and the request leaves it out (Message.to_api).
"""

from __future__ import annotations

import binascii
from pathlib import Path
from typing import Any, BinaryIO

from chatcli.core.conversation import OWN_PART_KEY
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
