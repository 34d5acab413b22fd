"""R9449-11: ``htu`` compared after RFC 3986 §6.2.2/§6.2.3 normalisation (the table)."""

from __future__ import annotations

import pytest

from stepup_mfa import DPoP
from stepup_mfa._verify.dpop import normalize_http_uri

SAME = [
    # (htu in the proof, public_url, request path)
    ("https://api.example.com/cats/", "https://api.example.com", "/cats/"),
    ("HTTPS://API.EXAMPLE.COM/cats/", "https://api.example.com", "/cats/"),  # scheme, host case
    ("https://Api.Example.Com/cats/", "https://api.example.com", "/cats/"),
    ("https://api.example.com:443/cats/", "https://api.example.com", "/cats/"),  # default port
    ("http://api.example.com:80/cats/", "http://api.example.com", "/cats/"),
    ("https://api.example.com:0443/cats/", "https://api.example.com", "/cats/"),  # leading zero
    ("https://api.example.com:8443/cats/", "https://api.example.com:8443", "/cats/"),
    ("https://api.example.com/%63ats/", "https://api.example.com", "/cats/"),  # unreserved
    ("https://api.example.com/%7Euser/", "https://api.example.com", "/~user/"),
    ("https://api.example.com/a%2db/", "https://api.example.com", "/a-b/"),
    ("https://api.example.com/caf%c3%a9", "https://api.example.com", "/café"),  # hex case
    ("https://api.example.com/caf%C3%A9", "https://api.example.com", "/café"),
    ("https://api.example.com/a%20b", "https://api.example.com", "/a b"),
    ("https://api.example.com/./cats/", "https://api.example.com", "/cats/"),  # dot segments
    ("https://api.example.com/dogs/../cats/", "https://api.example.com", "/cats/"),
    ("https://api.example.com/../cats/", "https://api.example.com", "/cats/"),
    ("https://api.example.com/cats/.", "https://api.example.com", "/cats/"),
    ("https://api.example.com", "https://api.example.com", "/"),  # empty path
    ("https://[2001:DB8::1]/cats/", "https://[2001:db8::1]", "/cats/"),  # IPv6 host
    ("https://[2001:db8:0:0:0:0:0:1]:443/cats/", "https://[2001:db8::1]", "/cats/"),
    ("https://127.0.0.1:8000/cats/", "https://127.0.0.1:8000", "/cats/"),
    ("https://bücher.example/cats/", "https://xn--bcher-kva.example", "/cats/"),  # IDN
    ("https://XN--BCHER-KVA.example/cats/", "https://bücher.example", "/cats/"),
    ("https://api.example.com/v1/cats/", "https://api.example.com/v1", "/cats/"),  # mount prefix
    ("https://api.example.com/v1/cats/", "https://api.example.com/v1/", "/cats/"),
]

DIFFERENT = [
    ("http://api.example.com/cats/", "https://api.example.com", "/cats/"),  # scheme
    ("https://api.example.com:8443/cats/", "https://api.example.com", "/cats/"),  # port
    ("https://api.example.org/cats/", "https://api.example.com", "/cats/"),  # host
    ("https://api.example.com/cats", "https://api.example.com", "/cats/"),  # slash
    ("https://api.example.com/Cats/", "https://api.example.com", "/cats/"),  # path case
    ("https://api.example.com/cats%2F", "https://api.example.com", "/cats/"),  # %2F is not /
    ("https://api.example.com/cats/?a=1", "https://api.example.com", "/cats/"),  # query
    ("https://api.example.com/cats/#f", "https://api.example.com", "/cats/"),  # fragment
    ("https://api.example.com/cats/?", "https://api.example.com", "/cats/"),
    ("https://u:p@api.example.com/cats/", "https://api.example.com", "/cats/"),  # userinfo
    ("https://api.example.com/%zz/", "https://api.example.com", "/cats/"),  # bad escape
    ("https://api.example.com:99999/cats/", "https://api.example.com", "/cats/"),
    ("https://[::1/cats/", "https://api.example.com", "/cats/"),
    ("ftp://api.example.com/cats/", "https://api.example.com", "/cats/"),
    ("//api.example.com/cats/", "https://api.example.com", "/cats/"),
    ("/cats/", "https://api.example.com", "/cats/"),
    ("https://api.example.com/cats/\n", "https://api.example.com", "/cats/"),
    ("https://api.example.com\\cats/", "https://api.example.com", "/cats/"),
    ("https://as.example.com/token", "https://api.example.com", "/token"),  # D13
]


@pytest.mark.parametrize(("htu", "public_url", "path"), SAME)
def test_R9449_11_htu_normalisation_matches(htu: str, public_url: str, path: str) -> None:
    expected = DPoP(public_url).expected_htu(path)
    assert expected is not None and normalize_http_uri(htu) == expected


@pytest.mark.parametrize(("htu", "public_url", "path"), DIFFERENT)
def test_R9449_10_D3_htu_normalisation_differs(htu: str, public_url: str, path: str) -> None:
    assert normalize_http_uri(htu) != DPoP(public_url).expected_htu(path)


def test_R9449_11_normal_form_is_stable() -> None:
    for htu, _, _ in SAME:
        once = normalize_http_uri(htu)
        assert once is not None and normalize_http_uri(once) == once
