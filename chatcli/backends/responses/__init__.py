"""The `responses` backend: OpenAI's Responses API (`POST /responses`), on the shared HTTP layer."""
