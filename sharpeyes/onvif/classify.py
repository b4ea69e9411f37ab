"""Map what went wrong in an ONVIF exchange to the closed :class:`~sharpeyes.probers.base.Reason`.

Details are fixed text plus bounded codes: never response content, URLs with userinfo, or secrets.
"""

from __future__ import annotations

import errno
import os
import re
import traceback
from pathlib import Path

import aiohttp
import lxml
import onvif
import zeep
from lxml import etree
from zeep import exceptions as zeep_exc

import sharpeyes
from sharpeyes.onvif.errors import (
    HttpStatusError,
    ResponseTooLargeError,
    SoapTransportError,
)
from sharpeyes.probers.base import Reason, fd_exhausted

_AUTH_CODES = frozenset({"notauthorized", "failedauthentication", "invalidsecurity", "securitytokenunavailable"})
_AUTH_TEXT = re.compile(r"not ?authori[sz]ed|unauthori[sz]ed|authentication|authority failure", re.I)
_UNSUPPORTED_CODES = frozenset({"actionnotsupported", "operationprohibited", "nosuchservice"})
_UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN})
_PARSER_ROOTS = (*(str(Path(str(m.__file__)).parent) + os.sep for m in (zeep, lxml, onvif)), "src/lxml/")
_OWN_ROOTS = (str(Path(str(sharpeyes.__file__)).parent) + os.sep,)
_CODE = re.compile(r"[^A-Za-z0-9:_.-]")


def fault_codes(fault: zeep_exc.Fault) -> list[str]:
    """The fault's code and subcodes as bounded local names (``NotAuthorized``, ``Sender``…)."""
    raw: list[object] = [fault.code, *(fault.subcodes or [])]
    names = []
    for code in raw:
        if code is None:
            continue
        text = getattr(code, "localname", None) or str(code)
        names.append(_CODE.sub("", text.rsplit(":", 1)[-1].rsplit("}", 1)[-1])[:40])
    return [n for n in names if n]


def fault_reason(fault: zeep_exc.Fault) -> tuple[Reason, str]:
    """A SOAP Fault: NotAuthorized (or an auth message) is ``auth``; unsupported action ``not_found``."""
    codes = fault_codes(fault)
    lowered = {c.lower() for c in codes}
    shown = "/".join(codes[:3]) or "no code"
    if lowered & _AUTH_CODES or _AUTH_TEXT.search(str(fault.message or "")[:500]):
        return Reason.AUTH, f"SOAP fault {shown}: not authorized"
    if lowered & _UNSUPPORTED_CODES:
        return Reason.NOT_FOUND, f"SOAP fault {shown}: not supported"
    return Reason.PROTOCOL, f"SOAP fault {shown}"


def _status_reason(status: int) -> tuple[Reason, str]:
    if status in (401, 403, 407):
        return Reason.AUTH, f"HTTP {status}"
    if status in (404, 405):
        return Reason.NOT_FOUND, f"HTTP {status}"
    if 300 <= status < 400:
        return Reason.PROTOCOL, f"HTTP {status} redirect refused"
    return Reason.PROTOCOL, f"HTTP {status}"


def _connect_reason(exc: aiohttp.ClientConnectorError) -> tuple[Reason, str]:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return Reason.DNS, "name resolution failed"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return Reason.TLS, "TLS handshake failed"
    if exc.os_error.errno == errno.ECONNREFUSED:
        return Reason.REFUSED, "connection refused"
    if exc.os_error.errno in _UNREACHABLE_ERRNOS:
        return Reason.UNREACHABLE, "host unreachable"
    return Reason.UNREACHABLE, f"connect failed ({type(exc.os_error).__name__})"


def _within(filename: str, roots: tuple[str, ...]) -> bool:
    return filename.startswith(roots)


def raised_in_parser(exc: BaseException) -> bool:
    """True if ``exc`` came from inside zeep, lxml or onvif-zeep-async (a malformed answer), not from our code.

    Looks at the first frame below the innermost frame of ours: if that call went into a parser library, the
    library raised (lxml's Cython frames have relative paths like ``src/lxml/etree.pyx``).
    """
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [i for i, frame in enumerate(frames) if _within(frame.filename, _OWN_ROOTS)]
    below = ours[-1] + 1 if ours else 0
    return below < len(frames) and _within(frames[below].filename, _PARSER_ROOTS)


def classify(exc: BaseException) -> tuple[Reason, str] | None:
    """The reason and a short fixed detail for ``exc``, or None if it is a bug of ours (→ ``internal``) or our
    own shortage of file descriptors (which :func:`~sharpeyes.probers.base.run_probe` turns into back-pressure)."""
    if fd_exhausted(exc):
        return None
    match exc:
        case ResponseTooLargeError():
            return Reason.TOO_LARGE, str(exc)
        case HttpStatusError(status=status):
            return _status_reason(status)
        case SoapTransportError():  # foreign address, refused or unexpected answer
            return Reason.PROTOCOL, str(exc)
        case zeep_exc.Fault():
            return fault_reason(exc)
        case zeep_exc.DTDForbidden() | zeep_exc.EntitiesForbidden() | zeep_exc.ExternalReferenceForbidden():
            return Reason.PROTOCOL, f"XML refused ({type(exc).__name__})"
        case zeep_exc.TransportError(status_code=status) if status in (401, 403, 404):
            return _status_reason(status)
        case zeep_exc.Error() | etree.LxmlError():
            return Reason.PROTOCOL, f"malformed SOAP response ({type(exc).__name__})"
        case aiohttp.ClientConnectorError():
            return _connect_reason(exc)
        case TimeoutError():
            return Reason.TIMEOUT, "no answer before the deadline"
        case aiohttp.ClientError():
            return Reason.PROTOCOL, f"HTTP exchange failed ({type(exc).__name__})"
        case ConnectionError():
            return Reason.PROTOCOL, f"connection lost ({type(exc).__name__})"
        case _ if raised_in_parser(exc):
            return Reason.PROTOCOL, f"malformed SOAP response ({type(exc).__name__})"
    return None
