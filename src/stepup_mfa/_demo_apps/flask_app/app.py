"""The seed's catsdogs API on Flask, one decorator per route.

    GET /        anonymous
    GET /dogs/   any valid access token
    GET /cats/   a valid token whose user passed MFA within the last STEPUP_MFA_MAX_AGE seconds

DPoP-bound tokens (RFC 9449) are accepted as well as bearer tokens; ``STEPUP_DPOP_REQUIRED=1``
makes ``/cats/`` accept only bound ones, and proofs must name ``STEPUP_PUBLIC_URL`` (default: the
URL this app is served on).

Run it with ``python examples/flask_app/app.py``; it reads the STEPUP_* variables (see README).
"""

from __future__ import annotations

import os

from flask import Flask

from stepup_mfa import AUTHENTICATED, ConfigurationError, Guard, StepUpSettings
from stepup_mfa.integrations.flask import FlaskStepUp, current_principal

# Development defaults, visible on purpose: with a STEPUP_* variable unset, the app trusts the
# development authorization server (``stepup-mfa dev-idp``) on its default port. The library has
# no default issuer or audience; a deployment sets STEPUP_ISSUER and STEPUP_AUDIENCE (or drops
# this mapping, so that a forgotten variable stops the app at start-up).
DEVELOPMENT_DEFAULTS = {
    "STEPUP_ISSUER": "http://127.0.0.1:9400",
    "STEPUP_AUDIENCE": "https://api.example.com",
    "STEPUP_MFA_ACR": "urn:stepup-mfa:acr:mfa",
}


PORT = int(os.environ.get("PORT", "8000"))
SERVED_URL = f"http://127.0.0.1:{PORT}"


def create_app(settings: StepUpSettings | None = None) -> Flask:
    settings = settings or StepUpSettings.from_env(defaults=DEVELOPMENT_DEFAULTS)
    mfa = settings.mfa_policy(name="mfa-recent")
    guard = Guard(
        settings.verifier(),
        realm="catsdogs",
        dpop=settings.dpop(SERVED_URL),
        strict_acr=settings.strict_acr,
    )
    # R9470-14 for decorators: the issuer must list the acr value (a warning, or with
    # STEPUP_STRICT_ACR=1 an error now); route tables are checked by the middlewares themselves.
    try:
        guard.check_acr_values([mfa])
    except ConfigurationError:
        guard.close()
        raise
    stepup = FlaskStepUp(guard)
    app = Flask(__name__)
    stepup.init_app(app)

    @app.get("/")
    def index() -> dict[str, str]:
        return {"message": "Hello, anonymous visitor"}

    @app.get("/dogs/")
    @stepup.require(AUTHENTICATED)
    def dogs() -> dict[str, str | None]:
        return {"message": "Woof", "sub": current_principal.subject}

    @app.get("/cats/")
    @stepup.require(mfa)
    def cats() -> dict[str, str | None]:
        return {"message": "Meow (fresh MFA seen)", "sub": current_principal.subject}

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=PORT)
