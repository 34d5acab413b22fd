"""Fixtures for the observability tests; they live in obs_kit.py with the helpers they use."""

from obs_kit import (  # noqa: F401
    clock,
    introspection_guard,
    issuer,
    json_logs,
    jwt_guard,
    telemetry,
    transport,
)
