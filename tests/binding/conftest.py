"""Fixtures of the binding tests (defined in ``binding_servers``): ``issuer``, a fake issuer on
the real clock; ``fleet``, the real servers the selected tests use, each in its own process;
``credentials``, the three credentials every cell is tried with."""

from __future__ import annotations

from binding_servers import credentials, fleet, issuer

__all__ = ["credentials", "fleet", "issuer"]
