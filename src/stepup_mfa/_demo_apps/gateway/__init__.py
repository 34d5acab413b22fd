"""A copy of examples/gateway (see the package docstring)."""
