"""A 20 MiB image is read and sent holding one copy of its base64 text, not three: the body is streamed to the
server in pieces (EncodedBody). Peak RSS is measured in a child process (ru_maxrss), never timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import CHATCLI
from tests.openai_server import OpenAIServer

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
IMAGE_BYTES = 20 * MIB
BASE64_BYTES = -(-IMAGE_BYTES // 3) * 4
README_RSS_LIMIT = 80 * MIB  # README: peak RSS, 20,000 tokens of Markdown on a terminal, < 80 MiB


@pytest.fixture
def big_image(tmp_path: Path) -> Path:
    path = tmp_path / "big.png"
    with path.open("wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n")
        for _ in range(20):
            file.write(os.urandom(MIB))
        file.truncate(IMAGE_BYTES)
    return path


# Reads the image as chatcli does, builds the body with chat_body and posts encode_body's pieces with httpx2
# (what the chat-completions client does with it). Linux's peak-RSS mark (VmHWM) is reset once the image is
# read, so the second number is the peak while the body is built and sent.
SENDER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import httpx2
    from chatcli.backends.http.body import encode_body
    from chatcli.backends.openai.request import chat_body
    from chatcli.core.conversation import Message
    from chatcli.core.stream import ChatRequest
    from chatcli.storage.images import read_image

    def status(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

    part = read_image(Path(sys.argv[2]), "image/png", 20 * 1024 * 1024)
    request = ChatRequest([Message("user", [{"type": "text", "text": "what is it?"}, part])], "test-model")
    client = httpx2.Client()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    before = status("VmRSS")
    body = encode_body(chat_body(request, stream=True, include_usage=True))
    headers = {"Content-Type": "application/json", "Content-Length": str(body.length)}
    response = client.post(sys.argv[1] + "/chat/completions", content=body, headers=headers)
    print(json.dumps({"status": response.status_code, "before": before, "peak": status("VmHWM")}))
    """
)


def test_the_body_streams_the_image_without_another_copy_of_its_base64(
    server: OpenAIServer, big_image: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SENDER, server.url, str(big_image)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout)
    assert report["status"] == 200
    [body] = server.bodies
    text, image = body["messages"][0]["content"]
    assert text == {"type": "text", "text": "what is it?"}
    assert image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGg")
    assert len(image["image_url"]["url"]) == len("data:image/png;base64,") + BASE64_BYTES
    # Building and sending the body holds pieces of it only: one more copy of the base64 would add 27 MiB.
    assert report["peak"] - report["before"] <= 4 * MIB


# Starts chatcli and prints its peak RSS. A small parent of its own, because a child's ru_maxrss starts at
# its parent's peak (Linux keeps the larger of the two at exec), and the test process may be large.
MEASURER = textwrap.dedent(
    """
    import os, subprocess, sys
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, file=sys.stderr)
    """
)


def test_chatcli_sends_a_20_mib_image_within_the_readme_limit_plus_the_file_size(
    server: OpenAIServer, big_image: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURER,
            CHATCLI,
            "ask",
            "--no-log",
            "--base-url",
            server.url,
            "-f",
            str(big_image),
            "hi",
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    code, peak = map(int, done.stderr.decode().split()[-2:])
    assert code == 0, done.stderr.decode()
    assert done.stdout == b"Hello from the test server.\n"
    assert len(server.bodies[0]["messages"][0]["content"][1]["image_url"]["url"]) > BASE64_BYTES
    assert peak <= README_RSS_LIMIT + IMAGE_BYTES
