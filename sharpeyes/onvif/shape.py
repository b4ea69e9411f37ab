"""Strict answer shape: the SOAP body must hold exactly the operation's response element, or a Fault.

zeep binds XML to XSD types leniently (see :func:`sharpeyes.onvif.settings.schema_settings`), and a lenient
binding of an answer in the wrong namespace is an empty object, which would read as a camera with no name and
no profiles. This ingress plugin rejects such answers before binding, so they are ``protocol``, never ``ok``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from zeep.plugins import Plugin

from sharpeyes.onvif.errors import SoapTransportError

SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"


class UnexpectedAnswerError(SoapTransportError):
    """The answer is well-formed XML but not the response element this operation expects."""

    def __init__(self, why: str) -> None:
        super().__init__(f"unexpected SOAP answer: {why}")


def expected_qname(operation: Any) -> str | None:
    body = getattr(getattr(operation, "output", None), "body", None)
    qname = getattr(body, "qname", None)
    return None if qname is None else str(qname)


def check_shape(envelope: Any, expected: str | None) -> None:
    """Raise :class:`UnexpectedAnswerError` unless ``envelope`` is SOAP 1.2 with ``expected`` or a Fault."""
    if etree.QName(envelope).text != f"{{{SOAP12_ENV}}}Envelope":
        raise UnexpectedAnswerError("not a SOAP 1.2 envelope")
    body = envelope.find(f"{{{SOAP12_ENV}}}Body")
    if body is None:
        raise UnexpectedAnswerError("no SOAP body")
    children = [child for child in body if isinstance(child.tag, str)]
    if len(children) != 1:
        raise UnexpectedAnswerError(f"{len(children)} elements in the body")
    tag = etree.QName(children[0]).text
    if tag != f"{{{SOAP12_ENV}}}Fault" and expected is not None and tag != expected:
        raise UnexpectedAnswerError("wrong response element or namespace")


class AnswerShapePlugin(Plugin):
    """zeep plugin running :func:`check_shape` on every answer."""

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> tuple[Any, Any]:
        check_shape(envelope, expected_qname(operation))
        return envelope, http_headers
