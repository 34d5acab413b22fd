"""The Guard: where time and I/O meet the decision logic.

Adapters hand the Guard a :class:`RequestView` and a :class:`Policy`; it finds the token, asks the
verifier (memory first, then the verifier's sans-I/O flow driven by a sync or an async transport),
and lets the core decide. ``check`` and ``acheck`` share every step except the one line that drives
the flow, so the blocking and the asyncio paths cannot drift apart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._core.credentials import (
    DEFAULT_METHODS,
    RequestView,
    TokenMethods,
    authorization_scheme,
    extract_credentials,
)
from ._core.decision import (
    Allowed,
    Attempt,
    ChallengeSettings,
    Decision,
    Refused,
    check_binding,
    deny,
    dpop_thumbprint,
    evaluate,
)
from ._core.errors import (
    ConfigurationError,
    InvalidRequest,
    InvalidToken,
    MissingCredentials,
    PolicyWarning,
    StepUpError,
    VerifierUnavailable,
)
from ._core.policy import Policy
from ._core.principal import Principal
from ._core.requirements import issuers_acr_problems
from ._observe import Observer, RecallObserver, log_fields, loggable, policy_name
from ._verify.base import (
    HasIssuerMetadata,
    KeepsStore,
    RefreshesKeys,
    TokenVerifier,
    WarmsUp,
)
from ._verify.cache import LoadsAhead
from ._verify.dpop import DPoP
from ._verify.flow import AsyncTransport, Flow, SyncTransport, run_async, run_sync
from ._verify.jwt_verifier import JWTVerifier
from ._verify.mtls import MutualTLS
from ._verify.transports import AsyncHttpxTransport, HttpxTransport

logger = logging.getLogger("stepup_mfa")

ProblemDetails = Literal["never", "accept", "always"]
DecisionHook = Callable[[RequestView, Policy, Decision], None]

PROBLEM_JSON = "application/problem+json"
HTTPS_REQUIRED = "HTTPS is required to send an access token"


#: What :meth:`Guard.check_acr_values` reads: (issuer, metadata or None) per issuer.
_Metadata = tuple[tuple[str, Mapping[str, Any] | None], ...]

#: How many (token, policy) verdicts a Guard keeps (the oldest written go first).
MAX_VERDICTS = 10_000
#: (policy, valid from, valid before, fresh until (inclusive), key set still current, decision,
#: the ``Authorization`` line it was reached for)
_Verdict = tuple[Policy, float, float, float, Callable[[], bool], Allowed, str]
#: Verdicts are found by the last characters of the line (signature bytes, at least 86 of them in
#: any compact JWS this library verifies) and then compared with the whole line: hashing a short
#: string instead of a 1 kB token saves a microsecond per request; another token ending the same
#: way is only a miss.
_KEY_TAIL = 48


@dataclass(frozen=True, slots=True)
class Denial:
    """A refusal ready to send: ``status``, ``headers`` (with ``Content-Type``) and ``body``."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Guard:
    """Checks requests against policies with one token verifier.

    - ``verifier``: the :class:`~stepup_mfa.TokenVerifier` that checks tokens
      (:class:`~stepup_mfa.JWTVerifier` or :class:`~stepup_mfa.IntrospectionVerifier`).
    - ``realm``, ``resource_metadata``, ``error_uri``: what every challenge carries.
    - ``clock``: the time source (seconds since the epoch); tests pass a frozen clock.
    - ``transport`` / ``async_transport``: how flows reach the authorization server (httpx by
      default; the Guard closes only the clients it created, in :meth:`close`/:meth:`aclose`).
    - ``token_methods``: which RFC 6750 §2 methods are accepted (header only by default).
    - ``problem_details``: send an RFC 9457 body ``"always"``, ``"never"``, or when the client's
      ``Accept`` asks for ``application/problem+json`` (``"accept"``, the default).
    - ``on_decision``: called with every decision, for audit logs and metrics.
    - ``observer``: hears every decision and every exchange with the authorization server
      (``stepup_mfa.integrations.opentelemetry.instrument`` installs one; see
      ``docs/observability.md``). Without one, nothing is measured.
    - ``refresh_ahead``: for verifiers that can (``JWTVerifier``), refresh the issuer's keys in
      the background this many seconds before they expire, so that no request waits on the
      network in steady state; ``None`` turns it off. Checked at most once a second.
    - ``require_https``: refuse (400 ``invalid_request``) a request for a protected route that did
      not arrive over HTTPS, before its token is looked at (RFC 6750 §5.3, R6750-22). The scheme is
      the one the server reports: behind a TLS-terminating proxy, let the server trust that
      proxy's headers (uvicorn ``--proxy-headers --forwarded-allow-ips``, werkzeug ``ProxyFix``);
      this library never reads ``X-Forwarded-Proto`` itself.
    - ``dpop``: a :class:`~stepup_mfa.DPoP` checker accepts ``Authorization: DPoP`` with its
      proof (RFC 9449); challenges then also offer ``DPoP algs=...``. Without it DPoP-bound tokens
      are refused.
    - ``mtls``: a :class:`~stepup_mfa.MutualTLS` source of client certificates accepts
      certificate-bound tokens (``cnf.x5t#S256``, RFC 8705) from the client holding that
      certificate; the adapters read it from the TLS layer or the named trusted proxy header.
      Without it certificate-bound tokens are refused.
    - ``strict_acr``: a policy asking for ``acr_values`` the issuer's metadata does not list in
      ``acr_values_supported`` stops the app at start-up (:class:`ConfigurationError`) instead of
      a :class:`PolicyWarning` (:meth:`check_acr_values`, R9470-14).
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        realm: str | None = "api",
        resource_metadata: str | None = None,
        error_uri: str | None = None,
        clock: Callable[[], float] = time.time,
        transport: SyncTransport | None = None,
        async_transport: AsyncTransport | None = None,
        token_methods: TokenMethods = DEFAULT_METHODS,
        problem_details: ProblemDetails = "accept",
        on_decision: DecisionHook | None = None,
        observer: Observer | None = None,
        refresh_ahead: float | None = 30.0,
        require_https: bool = False,
        dpop: DPoP | None = None,
        mtls: MutualTLS | None = None,
        strict_acr: bool = False,
    ) -> None:
        self.verifier = verifier
        self.dpop = dpop
        self.mtls = mtls
        self.strict_acr = bool(strict_acr)
        self.settings = ChallengeSettings(
            realm, resource_metadata, error_uri, dpop.algorithms if dpop is not None else ()
        )
        self.clock = clock
        if dpop is not None and not token_methods.dpop:
            token_methods = dataclasses.replace(token_methods, dpop=True)
        self.token_methods = token_methods
        self.problem_details = problem_details
        #: The decision hooks as one callable (on_decision, then the observer), or None.
        self._decided: DecisionHook | None = None
        self._on_decision = on_decision
        self._observer = observer
        self._rewire()
        self._transport = transport
        self._async_transport = async_transport
        self._own_transport: HttpxTransport | None = None
        self._async_transports: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncTransport
        ] = weakref.WeakKeyDictionary()
        self._missing = deny(MissingCredentials(), self.settings)
        self.require_https = require_https
        self._refresh_ahead = refresh_ahead
        # Declared protocols (base.py), not attribute probing: a verifier opts in by shape.
        refreshing = verifier if isinstance(verifier, RefreshesKeys) else None
        self._refresh_due: Callable[[float, float], bool] | None = (
            refreshing.refresh_due if refreshing is not None else None
        )
        self._refresh_flow: Callable[[float, float], Flow[None]] | None = (
            refreshing.refresh_flow if refreshing is not None else None
        )
        # Verdicts for tokens seen before: per (token, policy), the Allowed decision itself, valid
        # from when it was reached until its earliest deadline (exp + leeway, the key set's trust
        # horizon, auth_time + max_age) and while the key set it relied on is still the current
        # one. Only for JWTVerifier's own cache (not a subclass that overrides it), Bearer only
        # (no DPoP checker) and policies without rules (a rule may depend on more than the
        # token). Found by the ``Authorization`` line (its tail, then compared whole) and the
        # policy's identity: the memo lives in this process and serves this Guard's one verifier
        # only (shared stores, which need namespaced SHA-256 keys, never see it), so no digest
        # is paid per request. Bounded like the stores. Used only while ``self.verifier`` is the
        # verifier that reached them: an application that replaces it loses the memo.
        self._verdicts: dict[tuple[str, int], _Verdict] | None = None
        self._jwt_verifier: JWTVerifier | None = None
        self._verdict_lock = threading.Lock()
        if (
            dpop is None
            and isinstance(verifier, JWTVerifier)
            and type(verifier).cached is JWTVerifier.cached
            and type(verifier).cached_until is JWTVerifier.cached_until
            and type(verifier).store_key is JWTVerifier.store_key
        ):
            self._verdicts = {}
            self._jwt_verifier = verifier
        self._next_refresh_check = float("-inf")
        #: Whether requests must look at the key refresh at all (see :meth:`_due_refresh`).
        self._refreshes = (
            self._refresh_flow is not None
            and self._refresh_due is not None
            and refresh_ahead is not None
        )
        self._refresh_lock = threading.Lock()
        self._refreshing = False
        self._background: set[asyncio.Task[None]] = set()
        # A store whose shared tier is read by await (integrations.redis.AsyncTieredStore):
        # acheck loads a new token's entry from it before the verifier's memory lookup, so a
        # token another worker verified is found without blocking the event loop.
        store = verifier.store if isinstance(verifier, KeepsStore) else None
        self._load_ahead: Callable[[str, float], Awaitable[bool]] | None = (
            store.aload if isinstance(store, LoadsAhead) else None
        )

    # -- hooks ----------------------------------------------------------------------------------

    @property
    def on_decision(self) -> DecisionHook | None:
        return self._on_decision

    @on_decision.setter
    def on_decision(self, hook: DecisionHook | None) -> None:
        self._on_decision = hook
        self._rewire()

    @property
    def observer(self) -> Observer | None:
        return self._observer

    @observer.setter
    def observer(self, observer: Observer | None) -> None:
        self._observer = observer
        self._rewire()

    def _rewire(self) -> None:
        """One callable for the decision hooks, so a request without any pays one check; and
        whether :meth:`recall` may answer (only when whatever hears decisions can hear its)."""
        hook, observer = self._on_decision, self._observer
        self._recalled = observer.recalled if isinstance(observer, RecallObserver) else None
        self._recall_off = hook is not None or (observer is not None and self._recalled is None)
        if observer is None:
            self._decided = hook
        elif hook is None:
            self._decided = observer.decided
        else:
            decided = observer.decided

            def both(request: RequestView, policy: Policy, decision: Decision) -> None:
                hook(request, policy, decision)
                decided(request, policy, decision)

            self._decided = both

    # -- the two drivers ------------------------------------------------------------------------

    def check(self, request: RequestView, policy: Policy) -> Decision:
        """Decide ``request`` against ``policy``, blocking on the network if a token is new."""
        now = self.clock()
        refresh = self._due_refresh(now)
        if refresh is not None:
            threading.Thread(
                target=self._refresh_in_background, args=(refresh,), daemon=True
            ).start()
        token = self._begin(request, policy, now)
        if isinstance(token, Decision):
            return token
        try:
            principal = run_sync(
                self.verifier.verify(token, now), self._sync_transport(), self._observer
            )
        except Exception as error:
            return self._refuse(error, request, policy)
        return self._judge(principal, request, policy, now)

    async def acheck(self, request: RequestView, policy: Policy) -> Decision:
        """The asyncio form of :meth:`check`: decide ``request`` against ``policy``, the flow driven
        without blocking."""
        now = self.clock()
        refresh = self._due_refresh(now)
        if refresh is not None:
            task = asyncio.get_running_loop().create_task(self._arefresh_in_background(refresh))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        token = self._begin(request, policy, now)
        if isinstance(token, Decision):
            return token
        if self._load_ahead is not None:
            loaded = await self._loaded(token, request, policy, now)
            if loaded is not None:
                return loaded
        try:
            principal = await run_async(
                self.verifier.verify(token, now), self._loop_transport(), self._observer
            )
        except asyncio.CancelledError:
            if _being_cancelled():
                raise  # this request's own cancellation (timeout, disconnect) propagates
            # Nobody cancelled *this* request: the error is another request's, leaked through a
            # verifier or transport. It must not become a 500 or a request left unanswered.
            logger.error(
                "a cancellation that was not this request's reached the Guard",
                extra=log_fields("foreign_cancellation"),
            )
            return self._refuse(VerifierUnavailable(), request, policy)
        except Exception as error:
            return self._refuse(error, request, policy)
        return self._judge(principal, request, policy, now)

    def recall(self, authorization: str, policy: Policy) -> Allowed | None:
        """The hot path for a token seen before: the verdict remembered for exactly this
        ``Authorization`` line (``authorization``) under ``policy``, or ``None``: then
        :meth:`check` or :meth:`acheck` decides, as always.

        For adapters, and only for a request that carries this one ``Authorization`` line, no
        query string and no form body (the shape :meth:`check` remembers verdicts for). A hit
        costs one dictionary lookup and the comparison of the time with the verdict's
        precomputed deadlines. Everything else takes the full path: no memo (DPoP, a verifier
        other than :class:`JWTVerifier`, or one that replaced the verifier the verdicts were
        reached with), an ``on_decision`` hook or an ``observer`` without a ``recalled`` method
        (they see every decision with its request; an observer with one hears each hit there,
        see :class:`~stepup_mfa.Observer`), ``require_https`` (the scheme is judged there), a
        key-refresh check that is due, a verdict past a deadline or a key set that changed.
        """
        verdicts = self._verdicts
        if (
            verdicts is None
            or self.verifier is not self._jwt_verifier  # replaced: not its verdicts
            or self._recall_off
            or self.require_https
        ):
            return None
        verdict = verdicts.get((authorization[-_KEY_TAIL:], id(policy)))
        if verdict is None or verdict[6] != authorization:
            return None
        now = self.clock()
        if self._refreshes and now >= self._next_refresh_check:
            return None
        if (
            verdict[0] is policy
            and verdict[1] <= now < verdict[2]
            and now <= verdict[3]
            and verdict[4]()
        ):
            recalled = self._recalled
            if recalled is not None:
                recalled(policy, verdict[5])
            return verdict[5]
        return None

    async def _loaded(
        self, token: str, request: RequestView, policy: Policy, now: float
    ) -> Decision | None:
        """The decision from a shared store's entry for ``token``, loaded by ``await``; ``None``
        when it has none (the verifier's flow then decides)."""
        assert self._load_ahead is not None and isinstance(self.verifier, KeepsStore)
        try:
            if not await self._load_ahead(self.verifier.store_key(token), now):
                return None
            principal = self.verifier.cached(token, now, policy.max_cache_age)
        except Exception as error:
            return self._refuse(error, request, policy)
        return None if principal is None else self._judge(principal, request, policy, now)

    def startup(self) -> None:
        """Resolve metadata and keys now rather than on the first request (optional)."""
        flow = self._startup_flow()
        if flow is not None:
            run_sync(flow, self._sync_transport(), self._observer)

    async def astartup(self) -> None:
        """The asyncio form of :meth:`startup` (for lifespan start-up)."""
        flow = self._startup_flow()
        if flow is not None:
            await run_async(flow, self._loop_transport(), self._observer)

    # -- start-up checks ------------------------------------------------------------------------

    def check_acr_values(self, policies: Iterable[Policy]) -> tuple[str, ...]:
        """Compare the ``acr_values`` of ``policies`` with the issuer's ``acr_values_supported``
        (R9470-14): one :class:`PolicyWarning` per policy asking for a value the issuer does not
        list, naming the policy and the issuer's values, or with ``strict_acr`` one
        :class:`ConfigurationError` naming them all. Metadata without ``acr_values_supported``,
        or that cannot be fetched now, says nothing. Returns the problems found.

        The adapters call it at start-up for their route tables (lifespan, ``init_app``); call it
        yourself for the policies of decorators. Blocking: the metadata is fetched now.
        """
        policies = tuple(policies)
        flow = self._metadata_flow(policies)
        if flow is None:
            return ()
        try:
            found = run_sync(flow, self._sync_transport(), self._observer)
        except Exception as error:  # a start-up check never stops an app the issuer would not
            _acr_unchecked(error)
            return ()
        return self._report_acr(policies, found)

    async def acheck_acr_values(self, policies: Iterable[Policy]) -> tuple[str, ...]:
        """The asyncio form of :meth:`check_acr_values` for ``policies`` (for lifespan start-up)."""
        policies = tuple(policies)
        flow = self._metadata_flow(policies)
        if flow is None:
            return ()
        # A client of its own, closed at once: a lifespan's event loop need not be the one that
        # serves requests, and a failed start-up never runs the shutdown that would close it.
        own = AsyncHttpxTransport() if self._async_transport is None else None
        try:
            found = await run_async(flow, own or self._loop_transport(), self._observer)
        except Exception as error:
            _acr_unchecked(error)
            return ()
        finally:
            if own is not None:
                await own.aclose()
        return self._report_acr(policies, found)

    def _metadata_flow(self, policies: tuple[Policy, ...]) -> Flow[_Metadata] | None:
        verifier = self.verifier
        if not any(policy.acr_values for policy in policies):
            return None
        return verifier.issuer_metadata_flow() if isinstance(verifier, HasIssuerMetadata) else None

    def _report_acr(self, policies: tuple[Policy, ...], found: _Metadata) -> tuple[str, ...]:
        problems = issuers_acr_problems(policies, found)
        if problems and self.strict_acr:
            raise ConfigurationError("; ".join(problems))
        for problem in problems:
            logger.warning("%s", problem, extra=log_fields("acr_unsupported", reason=problem))
            warnings.warn(problem, PolicyWarning, stacklevel=3)
        return problems

    # -- refreshing keys ahead of expiry --------------------------------------------------------

    def _due_refresh(self, now: float) -> Flow[None] | None:
        """A refresh flow when the verifier's keys expire within ``refresh_ahead`` seconds and no
        refresh is running; checked at most once a second, so the hot path pays one comparison."""
        if now < self._next_refresh_check:
            return None
        if self._refresh_flow is None or self._refresh_due is None or self._refresh_ahead is None:
            return None
        with self._refresh_lock:
            if self._refreshing or now < self._next_refresh_check:
                return None
            self._next_refresh_check = now + 1.0
            # Only inside the window before expiry: keys never loaded, or already expired, are
            # fetched by the request that needs them (and shared by single flight).
            if not self._refresh_due(now, self._refresh_ahead) or self._refresh_due(now, 0.0):
                return None
            self._refreshing = True
        return self._refresh_flow(now, self._refresh_ahead)

    def _refresh_in_background(self, flow: Flow[None]) -> None:
        try:
            run_sync(flow, self._sync_transport(), self._observer)
        except Exception as error:  # requests go on with the keys they have
            _refresh_failed(error)
        finally:
            self._refreshing = False

    async def _arefresh_in_background(self, flow: Flow[None]) -> None:
        try:
            await run_async(flow, self._loop_transport(), self._observer)
        except Exception as error:
            _refresh_failed(error)
        finally:
            self._refreshing = False

    # -- shared steps ---------------------------------------------------------------------------

    def _begin(self, request: RequestView, policy: Policy, now: float) -> Decision | str:
        """Everything before the network: anonymous routes, credentials, the verifier's memory."""
        if not policy.authenticated:
            return self._finish(Allowed(), request, policy)
        if self.require_https and request.scheme.lower() != "https":
            return self._refuse(InvalidRequest(HTTPS_REQUIRED), request, policy)
        lines = request.authorization
        if (
            len(lines) == 1
            and lines[0][:7] == "Bearer "
            and not request.query_string
            and request.form_body is None
        ):
            # The hot path: a token seen before is in the verifier's memory exactly as it was sent,
            # so it already passed every syntax check. Anything but a hit (a miss, or a refusal
            # that might stem from bad syntax) takes the full path below, which checks in order.
            verdicts = self._verdicts
            if verdicts is not None and self.verifier is not self._jwt_verifier:
                verdicts = None  # the verifier was replaced: its verdicts are not this one's
            if verdicts is not None:
                key = (lines[0][-_KEY_TAIL:], id(policy))
                verdict = verdicts.get(key)
                if (
                    verdict is not None
                    and verdict[6] == lines[0]
                    and verdict[0] is policy
                    and verdict[1] <= now < verdict[2]
                    and now <= verdict[3]
                    and verdict[4]()
                ):
                    return self._finish(verdict[5], request, policy)
            try:
                principal = self.verifier.cached(lines[0][7:], now, policy.max_cache_age)
            except Exception:
                principal = None
            if principal is not None:
                decision = self._judge(principal, request, policy, now)
                if verdicts is not None and decision.allowed and not policy.rules:
                    self._remember_verdict(key, lines[0], policy, decision, now)
                return decision
        try:
            credentials = extract_credentials(request, self.token_methods)
            if credentials is None:
                return self._finish(self._missing, request, policy)
            principal = self.verifier.cached(credentials.token, now, policy.max_cache_age)
        except Exception as error:
            return self._refuse(error, request, policy)
        if principal is None:
            return credentials.token
        return self._judge(principal, request, policy, now)

    def _remember_verdict(
        self, key: tuple[str, int], line: str, policy: Policy, decision: Allowed, now: float
    ) -> None:
        """Keep an Allowed decision for a token seen before until its earliest deadline."""
        verifier = self._jwt_verifier
        assert verifier is not None  # verdicts exist only with it
        try:
            basis = verifier.cached_until(line[7:], now)
        except Exception:
            return
        if basis is None or (basis[0] is not decision.principal and basis[0] != decision.principal):
            return
        principal, until, same_keys = basis
        if until <= now:
            return  # past the keys' max-age: every request is judged again until they refresh
        if principal.cnf is not None and "x5t#S256" in principal.cnf:
            return  # admitted for the certificate of this connection only (RFC 8705)
        fresh_until = math.inf
        if policy.max_age is not None:
            if principal.auth_time is None:
                return
            fresh_until = principal.auth_time + policy.max_age  # is_fresh, once past auth_time
        verdicts = self._verdicts
        assert verdicts is not None
        with self._verdict_lock:
            while len(verdicts) >= MAX_VERDICTS:
                del verdicts[next(iter(verdicts))]  # the oldest written goes first
            verdicts[key] = (policy, now, until, fresh_until, same_keys, decision, line)

    def _judge(
        self, principal: Principal, request: RequestView, policy: Policy, now: float
    ) -> Decision:
        """Verified first, judged second (R9470-12): binding, then the route's policy."""
        attempt = self._attempt(request)
        try:
            if attempt == "DPoP":
                self._check_proof(principal, request, now)
            cert = request.client_cert if self.mtls is not None else None
            check_binding(principal, policy, cert, proof=attempt == "DPoP")
        except StepUpError as error:
            return self._refuse(error, request, policy)
        return self._finish(
            evaluate(principal, policy, now, self.settings, attempt), request, policy
        )

    def _check_proof(self, principal: Principal, request: RequestView, now: float) -> None:
        """RFC 9449 §7.1: the token must be DPoP-bound (D9) and the proof must hold for it."""
        assert self.dpop is not None  # a DPoP attempt is only recognised with a checker
        jkt = dpop_thumbprint(principal)
        if jkt is None:
            raise InvalidToken("DPoP scheme used with a token that is not DPoP-bound")
        token = request.authorization[0].partition(" ")[2].lstrip(" ")
        self.dpop.check(
            request.dpop, method=request.method, path=request.path, token=token, jkt=jkt, now=now
        )

    def _attempt(self, request: RequestView) -> Attempt:
        """Which scheme the request tried (RFC 9449 §7.2): ``both`` when it sent Bearer and DPoP."""
        if self.dpop is None:
            return "Bearer"
        schemes = {authorization_scheme(line) for line in request.authorization}
        if "dpop" not in schemes:
            return "Bearer"
        return "both" if len(request.authorization) > 1 and "bearer" in schemes else "DPoP"

    def _refuse(self, error: Exception, request: RequestView, policy: Policy) -> Decision:
        if not isinstance(error, StepUpError):
            # A defect or an unexpected fault: fail closed, and keep the details in the log only.
            logger.error(
                "token verification failed unexpectedly",
                exc_info=error,
                extra=log_fields(
                    "unexpected_error",
                    method=request.method,
                    path=request.path,
                    policy=policy_name(policy),
                    error_type=type(error).__name__,
                ),
            )
            error = VerifierUnavailable()
        return self._finish(deny(error, self.settings, self._attempt(request)), request, policy)

    def _finish(self, decision: Decision, request: RequestView, policy: Policy) -> Decision:
        if not decision.allowed and logger.isEnabledFor(logging.INFO):
            _log_refusal(decision, request, policy)
        decided = self._decided
        if decided is not None:
            decided(request, policy, decision)
        return decision

    def _startup_flow(self) -> Flow[Any] | None:
        verifier = self.verifier
        return verifier.startup_flow(self.clock()) if isinstance(verifier, WarmsUp) else None

    def _sync_transport(self) -> SyncTransport:
        if self._transport is None:
            self._transport = self._own_transport = HttpxTransport()
        return self._transport

    def _loop_transport(self) -> AsyncTransport:
        """An async transport for the running loop (httpx clients belong to one event loop)."""
        if self._async_transport is not None:
            return self._async_transport
        loop = asyncio.get_running_loop()
        transport = self._async_transports.get(loop)
        if transport is None:
            transport = self._async_transports[loop] = AsyncHttpxTransport()
        return transport

    def close(self) -> None:
        """Close the blocking HTTP client the Guard created for itself (not injected ones)."""
        if self._own_transport is not None:
            self._own_transport.close()
            self._own_transport = self._transport = None

    async def aclose(self) -> None:
        """Close the clients the Guard created, the running loop's asyncio client included."""
        self.close()
        transport = self._async_transports.pop(asyncio.get_running_loop(), None)
        if isinstance(transport, AsyncHttpxTransport):
            await transport.aclose()

    # -- responses ------------------------------------------------------------------------------

    def denial(self, decision: Refused, accept: str | None = None) -> Denial:
        """The response for a refused ``decision``, shaped once for every adapter.

        ``accept`` is the request's ``Accept`` header, which picks an RFC 9457 problem body when
        ``problem_details="accept"``."""
        wants_problem = self.problem_details == "always" or (
            self.problem_details == "accept" and accept is not None and PROBLEM_JSON in accept
        )
        if wants_problem:
            content_type, body = PROBLEM_JSON, decision.problem_json()
        else:
            content_type = "text/plain; charset=utf-8"
            body = decision.error.description.encode()
        headers = (*decision.headers, ("Content-Type", content_type), ("Cache-Control", "no-store"))
        return Denial(decision.status, headers, body)


def _being_cancelled() -> bool:
    """Whether the running task has been asked to stop (``Task.cancelling``, Python 3.11)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _log_refusal(decision: Refused, request: RequestView, policy: Policy) -> None:
    """The refusal line: who was refused, under which policy, and why (never the token)."""
    error = decision.error
    cause = error.cause if isinstance(error, VerifierUnavailable) else None
    name = policy_name(policy)
    logger.info(
        "refused %s %s: policy=%s status=%d error=%s reason=%s%s",
        loggable(request.method),
        loggable(request.path),
        name,
        decision.status,
        error.code,
        error.description,
        "" if cause is None else f" ({cause})",
        extra=log_fields(
            "refused",
            method=request.method,
            path=request.path,
            policy=name,
            outcome="refused",
            status=decision.status,
            error=error.code,
            reason=error.description,
            cause=cause,
        ),
    )


def _acr_unchecked(error: Exception) -> None:
    """A start-up check of acr values that could not be made (it never stops the app)."""
    cause = error.cause if isinstance(error, VerifierUnavailable) else None
    logger.info(
        "acr values not checked: %s",
        error,
        extra=log_fields("acr_unchecked", error_type=type(error).__name__, cause=cause),
    )


def _refresh_failed(error: Exception) -> None:
    """Requests go on with the keys they have; the log says why the refresh failed."""
    cause = error.cause if isinstance(error, VerifierUnavailable) else None
    logger.warning(
        "background key refresh failed: %s%s",
        type(error).__name__,
        "" if cause is None else f" ({cause})",
        extra=log_fields("key_refresh_failed", error_type=type(error).__name__, cause=cause),
    )
