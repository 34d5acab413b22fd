"""Helpers shared by the verification tests: a JSON-value strategy and self-signed certificates."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from hypothesis import strategies as st


def json_values(key_size: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, and small lists and objects of them."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=key_size), children, max_size=4)
        ),
        max_leaves=12,
    )


def self_signed_der(private: Any, common_name: str, serial: int = 1) -> bytes:
    """A self-signed certificate for ``private``'s public key, DER-encoded."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=36500))
        .sign(private, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def self_signed_b64(private: Any, common_name: str, serial: int = 1) -> str:
    """The same, as an ``x5c`` entry (standard base64 of the DER)."""
    return base64.b64encode(self_signed_der(private, common_name, serial)).decode()
