"""Any OpenAI-compatible chat-completions server: the wire (the body, the event-stream reader, tool calls) over
the shared HTTP client (backends/http/), and the context window each kind of server reports."""
