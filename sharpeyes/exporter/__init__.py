"""The Prometheus exporter and HTTP API of the daemon: a collector over in-memory state, and aiohttp routes."""
