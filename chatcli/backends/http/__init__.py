"""The HTTP layer every chat backend but echo shares: one `ChatClient` (client.py) over one `Wire` (wire.py: what
differs per provider), on httpx's client with chatcli's read budgets, size caps and retry rules."""
