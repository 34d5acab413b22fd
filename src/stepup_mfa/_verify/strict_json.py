"""The one strict JSON reader: JWS headers and payloads, JWK Sets, metadata, introspection.

Every JSON document that decides something about a token goes through here, so the rules cannot
differ between the JWT and the introspection paths:

- R7515-2 / R7519-3 / H5 / T8: duplicate member names reject (no "last one wins"); a JWK Set may
  instead mark the object (:func:`loads_json_marking_duplicates`, R7517-4) to skip just that key.
- R7515-7 / R8725-8 / R7519-6 / T9: UTF-8 only (no BOM, no UTF-16, no lone surrogates), one JSON
  value with nothing after it, nesting bounded without crashing.
- R7519-5 / T2: no ``NaN``/``Infinity`` and no number that only parses as infinity (``1e400``).
"""

from __future__ import annotations

import json
import json.scanner
import math
from collections.abc import Callable
from typing import Any


class MalformedJSON(ValueError):
    """A JSON text that this library refuses (see the module docstring for the rules)."""


def _reject_constant(name: str) -> Any:
    raise MalformedJSON("non-finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 (R7519-5, T2)
        raise MalformedJSON("non-finite number")
    return value


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedJSON("duplicate member name")
    return result


class DuplicateMembers(dict[str, Any]):
    """A JSON object that repeated a member name (kept so a JWK Set can skip just that key)."""


def _marking_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        return DuplicateMembers(result)
    return result


_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_object, parse_constant=_reject_constant, parse_float=_finite_float
)
_DECODE_STRICT = _STRICT_DECODER.decode
_SCAN_STRICT = json.scanner.make_scanner(_STRICT_DECODER)  # type: ignore[arg-type]
_DOCUMENT_ERRORS = (ValueError, RecursionError, StopIteration)
_DECODE_MARKING = json.JSONDecoder(
    object_pairs_hook=_marking_object, parse_constant=_reject_constant, parse_float=_finite_float
).decode


def has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a string no UTF-8 text can carry (T9)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False


def _decode_text(data: bytes | str, decode: Callable[[str], Any]) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        # A leading BOM is not JSON (RFC 8259 §8.1); json rejects "\ufeff" itself.
        value = decode(text)
    except MalformedJSON:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, digits
        raise MalformedJSON("not strict UTF-8 JSON") from exc
    # A "\ud800" escape decodes to a lone surrogate that no UTF-8 text can carry (T9).
    if "\\u" in text and has_lone_surrogate(value):
        raise MalformedJSON("lone surrogate")
    return value


def loads_strict_json(data: bytes | str) -> Any:
    """Parse UTF-8 JSON strictly; raise :class:`MalformedJSON` (never anything else)."""
    return _decode_text(data, _DECODE_STRICT)


def loads_json_marking_duplicates(data: bytes | str) -> Any:
    """Like :func:`loads_strict_json`, but an object with repeated names comes back as
    :class:`DuplicateMembers` instead of failing the whole document (R7517-4)."""
    return _decode_text(data, _DECODE_MARKING)


def loads_strict_object(text: str) -> dict[str, Any]:
    """One strict JSON *object* from decoded text (a JWS header or payload, R7519-6).

    Hot path: the C scanner is called directly for the usual shape (an object starting at the
    first character and ending at the last); anything else goes through the full decoder, which
    applies the same rules and tolerates surrounding JSON whitespace.
    """
    try:
        if text[:1] == "{":
            value, end = _SCAN_STRICT(text, 0)
            if end != len(text):
                value = _DECODE_STRICT(text)  # trailing whitespace is fine, data is not
        else:
            value = _DECODE_STRICT(text)
    except MalformedJSON:
        raise
    except _DOCUMENT_ERRORS as exc:
        raise MalformedJSON("not strict JSON") from exc
    if type(value) is not dict:
        raise MalformedJSON("not a JSON object")
    if "\\u" in text and has_lone_surrogate(value):  # lone surrogates (T9)
        raise MalformedJSON("lone surrogate")
    return value
