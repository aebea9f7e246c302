"""Tools from MCP servers: their configuration, their sessions (the `mcp` SDK, imported only once a
tool-enabled turn starts), approval on the terminal, and the ToolRunner the core's tool loop uses."""
