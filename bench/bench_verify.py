"""Per-operation cost of JWT verification, side by side, in one run.

Run:  python bench/bench_verify.py [--rounds 40] [--number 200]

Prints the best-of-N time per operation and its ratio to a raw `cryptography` signature check
(`public_key.verify(sig, signing_input, PKCS1v15(), SHA256())` for RS256, the ECDSA check for
ES256), for:

- stepup-mfa cold verify (verified-token cache off; keys already loaded, as in steady state),
- stepup-mfa verified-token cache hit (``cached``),
- PyJWT ``jwt.decode`` with audience/issuer/exp checks,
- joserfc ``jwt.decode`` plus ``JWTClaimsRegistry.validate``,

and the two cache-key choices (SHA-256 of the token vs the token itself) for a store lookup.
The JWKS is served by a real local HTTP server; the timed loops do no I/O.
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Callable
from typing import Any

import httpx
import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from stepup_mfa._verify.cache import MemoryStore, token_key
from stepup_mfa._verify.flow import run_sync
from stepup_mfa._verify.jws import parse_compact_jws
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.testing.server import LocalHTTPServer, Reply

AUDIENCE = "https://api.example.com"


def interleaved_best(
    candidates: dict[str, Callable[[], object]], rounds: int, number: int
) -> dict[str, float]:
    """Best per-call time (seconds) of each candidate over ``rounds`` batches of ``number`` calls.

    Candidates are timed in turn within each round, so a burst of load on the machine hits
    all of them alike and the ratios stay meaningful; the minimum filters the bursts out.
    """
    timers = {name: timeit.Timer(fn) for name, fn in candidates.items()}
    results = {name: float("inf") for name in candidates}
    for _ in range(rounds):
        for name, timer in timers.items():
            results[name] = min(results[name], timer.timeit(number) / number)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()

    rsa_private = rsa.generate_private_key(65537, 2048)
    ec_private = ec.generate_private_key(ec.SECP256R1())
    rsa_jwk = RSAKey.import_key(rsa_private)
    ec_jwk = ECKey.import_key(ec_private)

    server = LocalHTTPServer()
    server.start()
    issuer = server.url
    jwks = {
        "keys": [
            {**rsa_jwk.as_dict(private=False), "kid": "rsa", "use": "sig"},
            {**ec_jwk.as_dict(private=False), "kid": "ec", "use": "sig"},
        ]
    }
    server.routes["/jwks.json"] = lambda request: Reply.json(jwks)
    jwks_uri = issuer + "/jwks.json"

    now = time.time()
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": "user-1",
        "aud": AUDIENCE,
        "client_id": "client-1",
        "exp": int(now) + 3600,
        "iat": int(now) - 10,
        "jti": "jti-1",
        "auth_time": int(now) - 20,
        "acr": "urn:example:acr:mfa",
        "amr": ["pwd", "otp"],
        "scope": "cats:read dogs:read",
    }
    tokens = {
        "RS256": jose_jwt.encode(
            {"alg": "RS256", "typ": "at+jwt", "kid": "rsa"}, claims, rsa_jwk, algorithms=["RS256"]
        ),
        "ES256": jose_jwt.encode(
            {"alg": "ES256", "typ": "at+jwt", "kid": "ec"}, claims, ec_jwk, algorithms=["ES256"]
        ),
    }
    public_keys: dict[str, Any] = {
        "RS256": rsa_private.public_key(),
        "ES256": ec_private.public_key(),
    }
    jose_keys: dict[str, Any] = {"RS256": rsa_jwk, "ES256": ec_jwk}

    client = httpx.Client()
    transport = HttpxTransport(client)
    cold = JWTVerifier(issuer, AUDIENCE, jwks_uri=jwks_uri, cache_tokens=False)
    warm = JWTVerifier(issuer, AUDIENCE, jwks_uri=jwks_uri)
    run_sync(cold.startup_flow(now), transport)
    run_sync(warm.startup_flow(now), transport)
    for token in tokens.values():
        run_sync(warm.verify(token, now), transport)

    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
        sub={"essential": True},
    )

    print(f"best of {args.rounds} interleaved rounds x {args.number} calls; microseconds per call")
    print(f"{'operation':44} {'us/op':>9} {'x raw':>7}")
    for alg, token in tokens.items():
        parsed = parse_compact_jws(token)
        public_key = public_keys[alg]
        if alg == "RS256":
            raw_args: tuple[Any, ...] = (
                parsed.signature,
                parsed.signing_input,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        else:
            r = int.from_bytes(parsed.signature[:32], "big")
            s = int.from_bytes(parsed.signature[32:], "big")
            raw_args = (encode_dss_signature(r, s), parsed.signing_input, ec.ECDSA(hashes.SHA256()))

        jose_key = jose_keys[alg]
        candidates: dict[str, Callable[[], object]] = {
            f"raw cryptography verify ({alg})": lambda pk=public_key, a=raw_args: pk.verify(*a),
            f"stepup-mfa cold verify ({alg})": lambda t=token: run_sync(
                cold.verify(t, now), transport
            ),
            f"stepup-mfa cache hit ({alg})": lambda t=token: warm.cached(t, now),
            f"PyJWT jwt.decode ({alg})": lambda t=token, pk=public_key, a=alg: pyjwt.decode(
                t, pk, algorithms=[a], audience=AUDIENCE, issuer=issuer
            ),
            f"joserfc decode + claims ({alg})": lambda t=token, k=jose_key, a=alg: (
                registry.validate(jose_jwt.decode(t, k, algorithms=[a]).claims)
            ),
        }
        costs = interleaved_best(candidates, args.rounds, args.number)
        baseline = next(iter(costs.values()))
        for name, cost in costs.items():
            print(f"{name:44} {cost * 1e6:9.2f} {cost / baseline:7.2f}")

    token = tokens["RS256"]
    by_hash: MemoryStore[str] = MemoryStore()
    by_token: MemoryStore[str] = MemoryStore()
    by_hash.put(token_key(token), "x", now + 3600)
    by_token.put(token, "x", now + 3600)
    lookups = interleaved_best(
        {
            "store lookup keyed by SHA-256(token)": lambda: by_hash.get(token_key(token), now),
            "store lookup keyed by the token string": lambda: by_token.get(token, now),
        },
        args.rounds,
        args.number * 10,
    )
    print()
    for name, cost in lookups.items():
        print(f"{name:44} {cost * 1e6:9.2f}")
    print(f"{'token length (chars)':44} {len(token):9d}")

    client.close()
    server.stop()


if __name__ == "__main__":
    main()
