"""Fixtures for the reliability suite: the ONVIF fake-camera peers and the exporter app, reused by import."""

from tests.integration.onvif.conftest import _wsdls_loaded, peers, servers
from tests.integration.test_exporter_app import served

__all__ = ["_wsdls_loaded", "peers", "served", "servers"]
