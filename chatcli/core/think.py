"""Inline reasoning: a `<think>…</think>` block at the start of an answer (DeepSeek-R1, Qwen3 and others on
llama.cpp, vLLM, Ollama) becomes `Reasoning` pieces, recognised however the stream splits the tags."""

from __future__ import annotations

from enum import Enum, auto

from chatcli.core.stream import Reasoning

OPEN, CLOSE = "<think>", "</think>"


class _State(Enum):
    START = auto()  # no answer text yet besides whitespace: a <think> may still open
    THINKING = auto()  # inside the block: text is reasoning until </think>
    AFTER = auto()  # just after </think>: the whitespace separating it from the answer is dropped
    ANSWER = auto()  # everything else is the answer, passed through untouched


class ThinkSplitter:
    """A streaming state machine over the answer's text pieces. `feed` returns what can be told apart so far
    (text and `Reasoning`); `flush` returns what it held back at the end of the stream.

    Only a `<think>` that opens the answer (after optional whitespace) counts; a literal `<think>` later in
    the answer is left alone. At most a tag's length is held back while a tag may be forming.
    """

    def __init__(self) -> None:
        self._state = _State.START
        self._held = ""

    @property
    def in_answer(self) -> bool:
        """Past any think block: every piece from now on is answer text, as it comes."""
        return self._state is _State.ANSWER

    def feed(self, text: str) -> list[str | Reasoning]:
        if self._state is _State.ANSWER:
            return [text] if text else []
        self._held += text
        out: list[str | Reasoning] = []
        if self._state is _State.START:
            lead = self._held.lstrip()
            if OPEN.startswith(lead):
                return out  # only whitespace, or a tag still forming: wait
            if not lead.startswith(OPEN):
                self._state = _State.ANSWER
                out.append(self._held)
                self._held = ""
                return out
            self._state = _State.THINKING
            self._held = lead[len(OPEN) :]
        if self._state is _State.THINKING:
            end = self._held.find(CLOSE)
            if end < 0:
                keep = _partial_tag_length(self._held, CLOSE)
                thought = self._held[: len(self._held) - keep]
                self._held = self._held[len(self._held) - keep :]
                if thought:
                    out.append(Reasoning(thought))
                return out
            if end:
                out.append(Reasoning(self._held[:end]))
            self._state = _State.AFTER
            self._held = self._held[end + len(CLOSE) :]
        answer = self._held.lstrip()
        if answer:
            self._state = _State.ANSWER
            out.append(answer)
        self._held = ""
        return out

    def flush(self) -> list[str | Reasoning]:
        """What is still held back when the stream ends: an unfinished tag is text (or reasoning) after all."""
        held, self._held = self._held, ""
        if not held or self._state is _State.AFTER:
            return []
        return [Reasoning(held)] if self._state is _State.THINKING else [held]


def _partial_tag_length(text: str, tag: str) -> int:
    """The length of the longest end of `text` that is the start of `tag` (a tag split across pieces)."""
    for length in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:length]):
            return length
    return 0
