"""The domain: messages, conversations, one turn as a transaction, the stream types and the error tree.

The layer rule (enforced by tests/test_architecture.py): `core` imports nothing else of chatcli and no
third-party package; `backends`, `storage` and `render` import only `core`; `repl` and `cli` sit on top.
"""
