"""Images in the prompt: recognised by content, sent as image_url parts (checked part by part on the local
server), refused before any request when too large or of an unknown binary kind, kept whole in files and the
library, shown as placeholders, and a server that takes no images explained in one line."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from chatcli.backends.http.body import encode_body
from chatcli.backends.http.diagnosis import rejects_images
from chatcli.backends.openai.request import chat_body
from chatcli.core.conversation import Message
from chatcli.core.stream import ChatRequest
from chatcli.render.message_text import describe_part, shown_content
from chatcli.storage.images import image_part, image_type
from tests.inprocess import invoke
from tests.openai_server import OpenAIServer, json_reply


def png_bytes(width: int = 2, height: int = 1) -> bytes:
    """A real PNG: signature, IHDR, one IDAT of grey pixels, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


IMAGES = {
    "image/png": png_bytes(),
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00" + bytes(range(256)) + b"\xff\xd9",
    "image/gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00",
}


def data_url(media_type: str, raw: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(raw).decode()}"


def sent_content(server: OpenAIServer) -> Any:
    [body] = server.bodies
    [message] = body["messages"]
    assert message["role"] == "user"
    return message["content"]


def one_line_error(result: Any) -> str:
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("chatcli: error: ")
    return lines[0].removeprefix("chatcli: error: ")


# -- in-process: recognising, showing, the request body -------------------------------------------------------


@pytest.mark.parametrize(("media_type", "raw"), IMAGES.items())
def test_images_are_recognised_by_their_first_bytes(media_type: str, raw: bytes) -> None:
    assert image_type(raw[:12]) == media_type


@pytest.mark.parametrize("raw", [b"", b"hello", b"\x7fELF\x02\x01\x01\x00", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_other_bytes_are_not_images(raw: bytes) -> None:
    assert image_type(raw[:12]) is None


def test_a_part_shows_as_its_name_size_and_type_never_its_base64() -> None:
    part = image_part(data_url("image/png", b"x" * 831_488), "photo.png", "low")
    assert describe_part(part) == "[image: photo.png, 812 KB, image/png]"
    for size in (1, 2, 3, 4, 1000):  # base64 padding: 0, 1 or 2 `=`
        assert describe_part(image_part(data_url("image/gif", b"y" * size), "a.gif")).startswith(
            f"[image: a.gif, {size} bytes,"
        )
    unnamed = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    assert describe_part(unnamed) == "[image: https://example.com/cat.jpg]"
    assert shown_content([{"type": "text", "text": "what is it?"}, part]) == (
        "what is it?\n\n[image: photo.png, 812 KB, image/png]"
    )


def test_the_file_name_stays_in_the_conversation_but_is_never_sent() -> None:
    part = image_part(data_url("image/png", IMAGES["image/png"]), "photo.png", "high")
    message = Message("user", [{"type": "text", "text": "hi"}, part])
    body = chat_body(ChatRequest([message], "m"), stream=True, include_usage=False)
    assert body["messages"][0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": data_url("image/png", IMAGES["image/png"]), "detail": "high"},
    }
    assert "chatcli" in message.content[1]  # type: ignore[index]


def test_the_streamed_body_is_the_json_body_in_bounded_pieces() -> None:
    part = image_part("data:image/png;base64," + "QUJD" * 200_000, "big.png")
    text = 'quotes " backslashes \\ newlines \n and ünïcødé 🎉 ' * 5000
    message = Message("user", [{"type": "text", "text": text}, part])
    body = chat_body(ChatRequest([message], "m", temperature=0.5), stream=True, include_usage=True)
    encoded = encode_body(body)
    pieces = list(encoded)
    joined = b"".join(pieces)
    assert joined == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    assert encoded.length == len(joined)
    assert max(map(len, pieces)) <= 4 * 65536  # never the whole image at once
    assert b"".join(encoded) == joined  # iterating again sends the same body (a retry)


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (400, "Invalid content type. image_url is only supported by certain models.", True),
        (400, "This model does not support image input", True),
        (400, "Qwen2 is not a multimodal model", True),
        (
            500,
            "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
            True,
        ),
        (400, "This model's maximum context length is 8192 tokens", False),
        (500, "vision tower crashed", False),
    ],
)
def test_servers_that_take_no_images_are_recognised(status: int, text: str, expected: bool) -> None:
    assert rejects_images(status, text) is expected


# -- end to end: the installed chatcli against the local server -----------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(("media_type", "name"), [(kind, f"shot-{n}.txt") for n, kind in enumerate(IMAGES)])
def test_an_image_is_sent_as_an_image_part_whatever_its_name(
    tmp_path: Path, server: OpenAIServer, media_type: str, name: str
) -> None:
    raw = IMAGES[media_type]
    (tmp_path / name).write_bytes(raw)
    result = invoke("ask", "--base-url", server.url, "-f", str(tmp_path / name), "what is this?")
    assert result.returncode == 0, result.stderr
    assert sent_content(server) == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": data_url(media_type, raw)}},
    ]


@pytest.mark.e2e
def test_text_files_stdin_and_prompt_come_first_then_the_images_with_their_detail(
    tmp_path: Path, server: OpenAIServer
) -> None:
    (tmp_path / "notes.md").write_text("remember the milk\n", encoding="utf-8")
    (tmp_path / "a.png").write_bytes(IMAGES["image/png"])
    (tmp_path / "b.gif").write_bytes(IMAGES["image/gif"])
    files = ["-f", str(tmp_path / "a.png"), "-f", str(tmp_path / "notes.md"), "-f", str(tmp_path / "b.gif")]
    result = invoke(
        "ask", "--base-url", server.url, "--image-detail", "low", *files, "compare", input=b"from stdin\n"
    )
    assert result.returncode == 0, result.stderr
    text, first, second = sent_content(server)
    assert text == {
        "type": "text",
        "text": f"### {tmp_path / 'notes.md'}\n\n```\nremember the milk\n```\n\nfrom stdin\n\ncompare",
    }
    assert first == {
        "type": "image_url",
        "image_url": {"url": data_url("image/png", IMAGES["image/png"]), "detail": "low"},
    }
    assert second == {
        "type": "image_url",
        "image_url": {"url": data_url("image/gif", IMAGES["image/gif"]), "detail": "low"},
    }


@pytest.mark.e2e
def test_an_image_alone_is_the_prompt(tmp_path: Path, server: OpenAIServer) -> None:
    (tmp_path / "a.webp").write_bytes(IMAGES["image/webp"])
    result = invoke("ask", "--base-url", server.url, "-f", str(tmp_path / "a.webp"))
    assert result.returncode == 0, result.stderr
    assert sent_content(server) == [
        {"type": "image_url", "image_url": {"url": data_url("image/webp", IMAGES["image/webp"])}}
    ]


@pytest.mark.e2e
def test_an_image_over_max_image_bytes_or_a_bad_detail_is_refused_before_any_request(
    tmp_path: Path, server: OpenAIServer, isolated_home: Path
) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(IMAGES["image/png"])
    config = isolated_home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_image_bytes = 50\n", encoding="utf-8")
    result = invoke("ask", "--base-url", server.url, "-f", str(image), "hi")
    assert result.returncode == 2
    assert one_line_error(result) == (
        f"attached image '{image}' is larger than 50 bytes; raise max_image_bytes in the config to send it"
    )
    config.write_text(f"max_image_bytes = {len(IMAGES['image/png'])}\n", encoding="utf-8")
    result = invoke("ask", "--base-url", server.url, "--image-detail", "ultra", "-f", str(image), "hi")
    assert result.returncode == 2
    assert one_line_error(result) == "--image-detail must be one of low, high, auto, not 'ultra'"
    assert server.requests == []
    result = invoke("ask", "--base-url", server.url, "-f", str(image), "hi")  # exactly at the limit
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid content type. image_url is only supported by certain models."),
        (
            400,
            "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
        ),
    ],
)
def test_a_server_that_takes_no_images_gets_one_line_saying_so(
    tmp_path: Path, server: OpenAIServer, status: int, message: str
) -> None:
    (tmp_path / "photo.png").write_bytes(IMAGES["image/png"])
    server.enqueue(json_reply(status, {"error": {"message": message, "type": "invalid_request_error"}}))
    result = invoke(
        "ask", "--base-url", server.url, "-m", "text-only", "-f", str(tmp_path / "photo.png"), "hi"
    )
    assert result.returncode == 1
    error = one_line_error(result)
    assert error.startswith(f"model 'text-only' at {server.url} does not accept images ({status}: ")
    assert error.endswith("; use a vision model, or send the text without the images")


@pytest.mark.e2e
def test_files_and_the_library_keep_the_image_whole_and_show_a_placeholder(
    tmp_path: Path, server: OpenAIServer
) -> None:
    raw = IMAGES["image/jpeg"]
    (tmp_path / "cat.jpg").write_bytes(raw)
    chat, exported = tmp_path / "chat.json", tmp_path / "exported.json"
    result = invoke("ask", "--base-url", server.url, "-o", str(chat), "-f", str(tmp_path / "cat.jpg"), "who?")
    assert result.returncode == 0, result.stderr
    kept = {
        "type": "image_url",
        "image_url": {"url": data_url("image/jpeg", raw)},
        "chatcli": {"name": "cat.jpg"},
    }
    assert json.loads(chat.read_text())["messages"][0]["content"] == [{"type": "text", "text": "who?"}, kept]

    listed = invoke("history", "list", "--json")
    [entry] = json.loads(listed.stdout)
    placeholder = f"[image: cat.jpg, {len(raw)} bytes, image/jpeg]"
    assert entry["title"] == f"who? {placeholder}"
    shown = invoke("history", "show", entry["id"])
    assert shown.stdout.decode() == (
        f"## user\n\nwho?\n\n{placeholder}\n\n## assistant\n\nHello from the test server.\n"
    )
    assert invoke("history", "export", entry["id"], str(exported)).returncode == 0
    assert json.loads(exported.read_text())["messages"][0]["content"][1] == kept

    result = invoke("ask", "--base-url", server.url, "-l", str(exported), "and now?")  # sent again, whole
    assert result.returncode == 0, result.stderr
    assert server.bodies[1]["messages"][0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": data_url("image/jpeg", raw)},
    }
