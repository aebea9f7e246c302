"""Showing answers: plain and Markdown renderers, the live area, block splitting, the spinner, and the
sanitiser every untrusted string passes before it reaches a terminal. Imports only chatcli.core."""
