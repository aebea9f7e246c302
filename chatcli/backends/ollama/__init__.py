"""The ollama backend: Ollama's own /api/chat (NDJSON streaming, num_ctx, think, keep_alive)."""
