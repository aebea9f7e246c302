"""The error tree; each class carries the exit code the command line returns for it.

ChatError (1)
├── UsageError (2)        bad flags, bad input, nothing was sent
├── BackendError (1)      the server, the network or the stream failed
│   └── PartialAnswer (1) the stream failed after some text arrived; the text is kept
└── HistoryError (1)      reading or writing a conversation file failed
    └── BadFileError (2)  a file we were asked to read is missing or invalid
"""


class ChatError(Exception):
    exit_code = 1


class UsageError(ChatError):
    exit_code = 2


class BackendError(ChatError):
    pass


class PartialAnswer(BackendError):
    """The stream broke after text reached the user: keep it, never retry."""


class HistoryError(ChatError):
    pass


class BadFileError(HistoryError):
    exit_code = 2
