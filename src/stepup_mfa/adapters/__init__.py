"""The edge: every framework adapter in one room.

- :mod:`stepup_mfa.adapters.asgi`: the ASGI middleware with a route table (route-aware inside
  Starlette and FastAPI apps; canonical paths only around other ASGI apps).
- :mod:`stepup_mfa.adapters.wsgi`: the WSGI middleware (route-aware for Flask and werkzeug).
- :mod:`stepup_mfa.adapters.gateway`: the forward-auth server for nginx, Caddy, Traefik and
  Envoy (``stepup-mfa gateway``), matching paths like the raw middlewares.
- :mod:`stepup_mfa.adapters.starlette`, :mod:`~stepup_mfa.adapters.fastapi`,
  :mod:`~stepup_mfa.adapters.flask`: decorators, dependencies and extensions.

They share one module for the request view, the CORS-preflight rule, the principal's place and
the shape of a refusal (``_edge``). The older import paths (``stepup_mfa.asgi``,
``stepup_mfa.wsgi``, ``stepup_mfa.integrations.*``) re-export these modules.
"""
