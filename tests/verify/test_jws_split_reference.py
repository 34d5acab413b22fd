"""R7515-1, R8725-15, P11: the one-pass split (alphabet check and translation together) and the
segment decoder agree with a plain reading of compact JWS over generated tokens: three
non-empty base64url segments, nothing outside the alphabet, canonical encodings only."""

from __future__ import annotations

import base64
import binascii

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._verify.jws import decode_signature, split_compact_jws

_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_chars = st.sampled_from(_URL) | st.sampled_from(".+/= \t\n\x00\x7f\x80~%é")
_segment = st.text(alphabet=st.sampled_from(_URL), max_size=12)
_tokens = (
    st.text(alphabet=_chars, max_size=40)
    | st.builds(lambda a, b, c: f"{a}.{b}.{c}", _segment, _segment, _segment)
    | st.builds(
        lambda a, b, c, noise, at: (lambda t: t[:at] + noise + t[at:])(f"{a}.{b}.{c}"),
        _segment,
        _segment,
        _segment,
        _chars,
        st.integers(0, 40),
    )
)


def _plain_decode(segment: str) -> bytes | None:
    """Canonical base64url without padding: the decoding re-encodes to the very segment."""
    if len(segment) % 4 == 1:
        return None
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(decoded).decode().rstrip("=") != segment:
        return None
    return decoded


def _plain(token: str) -> tuple[list[bytes | None], bytes] | None:
    if not token.isascii() or any(c not in _URL + "." for c in token):
        return None
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    return [_plain_decode(p) for p in parts], f"{parts[0]}.{parts[1]}".encode()


def _ours(token: str) -> tuple[list[bytes | None], bytes] | None:
    try:
        *segments, signing_input = split_compact_jws(token)
    except InvalidToken:
        return None
    decoded: list[bytes | None] = []
    for segment in segments:
        try:
            decoded.append(decode_signature(segment))
        except InvalidToken:
            decoded.append(None)
    return decoded, signing_input


@settings(max_examples=500)
@given(_tokens)
@example("a.b.c")
@example("QQ.QR.QQ")  # QR: bits past the data set, not canonical
@example("QUE.QUF.QUI")
@example("ab+c.de.fg")
@example("ab/c.de.fg")
@example("ab=.de.fg")
@example("-_-_.__.--")
@example("a.b.c.d.e")
@example("a..c")
@example("a.b.")
@example(".b.c")
@example("a.b")
@example("abc")
@example("a.b.c.")
@example("..")
@example("a.bc.d.")
@example("a.b.c ")
def test_r7515_1_split_and_decoding_match_the_plain_reading(token: str) -> None:
    """R7515-1, R8725-15, P11: same refusals (alphabet, segments, 4k+1 lengths, non-zero unused
    bits), same bytes, same signing input."""
    assert _ours(token) == _plain(token)
