"""The interactive session: the prompt loop, slash commands, key bindings and completion, terminal helpers."""
