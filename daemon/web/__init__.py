"""The browser endpoint: a loopback WebSocket mirroring the MQTT topics, a probe, the schemas and the
station console. docs/web.md is the contract; nothing here imports the WebSocket library at import time
of ``passerelle.daemon.web`` itself, so the configuration can name its settings cheaply."""
