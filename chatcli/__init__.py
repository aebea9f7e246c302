"""chatcli: a terminal chat client for OpenAI-compatible servers. Imports nothing heavy."""

__version__ = "0.1.0"
