"""One login in a real headless Chromium: the pages work for a person, not only for scripts.

Debian's ``chromium`` package, driven by Playwright through ``executable_path``. Without it the test
skips on a developer machine and FAILS in CI (the ``CI`` environment variable), so a CI image that
lost its browser cannot pass silently.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from urllib.parse import urlencode

import httpx
import pytest

from stepup_mfa.devidp import DevIdP

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.browser
def test_password_and_totp_login_through_the_pages_in_chromium(idp: DevIdP) -> None:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    verifier = "b" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    redirect_uri = idp.issuer + "/callback"
    authorize = (
        idp.issuer
        + "/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": "demo-client",
                "redirect_uri": redirect_uri,
                "scope": "cats:read",
                "state": "browser-state",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "acr_values": idp.mfa_acr,
            }
        )
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(authorize)
            page.get_by_label("Username").fill("alice")
            page.get_by_label("Password").fill("alice-password")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("One-time code").fill(idp.totp_code("alice"))
            page.get_by_role("button", name="Verify").click()
            page.wait_for_url(redirect_uri + "?*")
            code = page.locator("#code").inner_text()
            state = page.locator("#state").inner_text()
        finally:
            browser.close()
    assert state == "browser-state"
    tokens = httpx.post(
        idp.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": "demo-client",
            "code_verifier": verifier,
        },
    ).json()
    payload = tokens["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["acr"], claims["amr"]) == (idp.mfa_acr, ["pwd", "otp"])
