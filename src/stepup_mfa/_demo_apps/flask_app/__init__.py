"""A copy of examples/flask_app (see the package docstring)."""
