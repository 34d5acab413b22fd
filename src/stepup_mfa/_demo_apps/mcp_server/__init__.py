"""A copy of examples/mcp_server (see the package docstring)."""
