"""PERF-5, R7518-4: the ECDSA check's own DER encoding equals ``encode_dss_signature``'s."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import example, given
from hypothesis import strategies as st

from stepup_mfa._verify.jws import _COORDINATE_BYTES, _CURVE_ORDER, der_signature


@pytest.mark.parametrize("curve", ["P-256", "P-384", "P-521"])
@given(data=st.data())
@example(data=None)
def test_perf_5_r7518_4_der_signature_matches_cryptography(
    curve: str, data: st.DataObject | None
) -> None:
    """PERF-5, R7518-4: for r, s in [1, n-1] (edges included) the DER bytes are identical."""
    order = _CURVE_ORDER[curve]
    size = _COORDINATE_BYTES[curve]
    values = st.sampled_from(
        [1, 2, 0x7F, 0x80, 0xFF, 0x100, order - 1, order >> 1, (order >> 9) + 1]
    )
    numbers = values | st.integers(1, order - 1)
    if data is None:
        pairs = [(1, 1), (order - 1, order - 1), (0x80, 0x7F)]
    else:
        pairs = [(data.draw(numbers), data.draw(numbers))]
    for r, s in pairs:
        expected = encode_dss_signature(r, s)
        assert der_signature(r.to_bytes(size, "big"), s.to_bytes(size, "big")) == expected
