"""Any OpenAI-compatible chat-completions server: the client, its event-stream reader, error diagnosis and
transport."""
