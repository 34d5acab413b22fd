"""The example apps, shipped inside the package so that ``stepup-mfa demo`` runs from a plain
``pip install 'stepup-mfa[demo]'`` as well as from a checkout.

This package is the source of truth; the repository's ``examples/`` folders hold byte-identical
copies of these files (plus a README each) for people to read and run, and a test fails when the
two differ. Each app runs as its own process: ``python <folder>/app.py`` (``upstream.py`` for the
gateway's pages), configured only through its ``STEPUP_*`` variables.
"""
