"""Errors raised by the hardened SOAP transport. Messages are fixed text, never content or secrets."""

from __future__ import annotations


class SoapTransportError(Exception):
    """Base class: the transport refused a request or a response."""


class ResponseTooLargeError(SoapTransportError):
    """The response body exceeded the module's ``max_response_bytes`` (declared or while streaming)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"response body larger than {limit} bytes")


class ForeignAddressError(SoapTransportError):
    """A request was about to leave the registered origin (scheme, host, port). Nothing was sent."""

    def __init__(self) -> None:
        super().__init__("refused to send a SOAP request outside the registered origin")


class HttpStatusError(SoapTransportError):
    """The HTTP status alone decides the outcome (401/403 auth, 404 not found, 3xx redirect refused)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"HTTP status {status}")


class ResponseRefusedError(SoapTransportError):
    """A response we will not parse: compressed, multipart (MTOM/XOP) or not XML."""

    def __init__(self, why: str) -> None:
        super().__init__(f"response refused: {why}")
