"""Passerelle: the counter hardware daemon.

One import namespace over the repository's top-level folders: ``passerelle.daemon`` (the core),
``passerelle.drivers`` (device families), ``passerelle.simulators`` (their software twins) and
``passerelle.testing`` (helpers that tests and benchmarks share). In the repository these live in
daemon/, drivers/, simulators/ and testing/; src/passerelle links them for editable installs, and the
wheel maps them under ``passerelle/`` (pyproject.toml, [tool.hatch.build.targets.wheel]).
"""
