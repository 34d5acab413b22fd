"""Fixtures of the gateway tests (defined in ``gateway_stack``): ``issuer``, a fake issuer on the
real clock; ``world``, the upstream, real nginx and Caddy each with its gateway, and the Traefik
and Envoy gateways, each in its own process; ``reference``, the in-process answer to compare
with."""

from __future__ import annotations

from gateway_stack import issuer, reference, world

__all__ = ["issuer", "reference", "world"]
