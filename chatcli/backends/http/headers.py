"""The headers chatcli sends with every request, and the check every key and id passes before it is sent."""

from __future__ import annotations

from chatcli import __version__
from chatcli.core.errors import UsageError

USER_AGENT = f"chatcli/{__version__}"


def common_headers() -> dict[str, str]:
    """The headers of every request, whatever the provider. No compression is asked for: a small compressed
    body can expand enormously, and a stream is best read as the server sends it (a server that compresses
    anyway is decoded by httpx a piece at a time, under the same size caps). `Accept` is what the SDKs send,
    for streams too."""
    return {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"}


def check_token(value: str, subject: str) -> None:
    """Keys and ids are printable ASCII without spaces. A key file saved with Windows line endings or a
    pasted smart quote would otherwise fail deep in the HTTP library with a message about something else.
    The error names the first bad character and its position, never the value."""
    for position, character in enumerate(value, 1):
        if "!" <= character <= "~":
            continue
        import unicodedata  # only on this error path

        name = unicodedata.name(character, "")
        raise UsageError(
            f"{subject} contains {character!r} (U+{ord(character):04X}{' ' + name if name else ''}) at "
            f"character {position} of {len(value)}; keys are plain ASCII without spaces: remove it "
            "(a file saved with Windows line endings, a smart quote or a non-breaking space?)"
        )
