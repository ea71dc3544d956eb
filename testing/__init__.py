"""Helpers shared by the test suite and the benchmarks (a private Mosquitto, waits, daemon processes).

Installed with Passerelle so that bench/ and tests/ import one copy; the daemon itself never imports it.
"""
