"""The daemon's services, each a short module built and connected by the composition root (daemon/app.py):
``ingest`` (drivers → outbox) and the bridge services (``health``, ``info``, ``loss``, ``commands``,
``readings`` for the metrics; the inventory is daemon/inventory.py). They tell each other of changes
through typed signals (daemon/signals.py), never through callbacks assigned after construction."""
