"""A copy of examples/starlette_app (see the package docstring)."""
