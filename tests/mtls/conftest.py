"""mTLS fixtures: one set of certificates per session (helpers in mtls_kit.py)."""

from __future__ import annotations

import pytest
from tests.mtls.mtls_kit import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))
