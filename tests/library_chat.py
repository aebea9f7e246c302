"""The slash commands in-process: a CommandRunner recording into a real library, its screen's lines kept, its
yes/no questions answered as the test says; typed lines go through the REPL's own `send` (and its draft)."""

from __future__ import annotations

import io
from pathlib import Path

from chatcli.core.compaction import DEFAULT_COMPACT_PROMPT
from chatcli.core.conversation import Content, Conversation, Message
from chatcli.core.session import Session, TurnOverrides
from chatcli.core.stream import Backend
from chatcli.core.turn import TurnResult
from chatcli.render.plain import PlainRenderer
from chatcli.repl.attachments import Draft, send
from chatcli.repl.commands import Command, CommandRunner, parse_line
from chatcli.storage.conversation_file import Autosave
from chatcli.storage.recorder import Recorder


class LibraryChat:
    def __init__(
        self,
        path: Path,
        backend: Backend,
        conversation: Conversation,
        *,
        yes: bool = False,
        records: bool = True,
        compact_prompt: str = DEFAULT_COMPACT_PROMPT,
    ) -> None:
        self.notices: list[str] = []
        self.warnings: list[str] = []
        self.shown: list[Message] = []
        self.questions: list[str] = []
        self.yes = yes
        self.recorder = Recorder(path, self.warnings.append, records=records)
        self.session = Session(backend, conversation, conversation.model or "m1")
        self.session.observers.append(self.recorder)
        autosave = Autosave(None, warn=self.warnings.append)
        self.runner = CommandRunner(
            self.session,
            self,  # type: ignore[arg-type]
            self.ask,
            autosave,
            self.recorder,
            confirm=self.confirm,
            compact_prompt=compact_prompt,
        )
        self.draft: Draft = self.runner.inputs._draft

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def show_messages(self, messages: list[Message]) -> None:
        self.shown += messages

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return self.yes

    def ask(self, text: Content, overrides: TurnOverrides | None = None) -> TurnResult:
        return self.session.turn(text, PlainRenderer(io.BytesIO()), overrides=overrides)

    def line(self, text: str) -> None:
        parsed = parse_line(text)
        if isinstance(parsed, Command):
            self.runner.run(parsed)
        else:
            assert parsed is not None
            send(self.session, self.draft, parsed, self.runner.send)

    def texts(self) -> list[str]:
        return [message.text for message in self.session.conversation.messages]
