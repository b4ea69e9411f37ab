"""A hardened SOAP client for ONVIF cameras, built on onvif-zeep-async and zeep.

What "hardened" means here (DESIGN.md §9, RELIABILITY.md S1–S4):

- strict XML parsing; DTDs, entities and external references forbidden; no huge trees (:mod:`.settings`);
- every response body capped while it streams in, and a total operation timeout on the probe's monotonic
  :class:`~sharpeyes.probers.base.Deadline` (:mod:`.transport`);
- WSDLs loaded only from the package's own directory, off the event loop, once per process (:mod:`.wsdl`);
- every SOAP request goes only to the registered origin; service addresses (XAddrs) the camera advertises are
  re-pinned to it, so a UsernameToken is never sent elsewhere (:mod:`.pinning`);
- the HTTP session is always closed (:class:`.client.OnvifClient` is an async context manager).

This package's ``__init__`` only imports onvif-zeep-async's client module under a guard (its import calls
``logging.basicConfig``), so every submodule may then import ``onvif.*`` freely: the guard always ran first.
Import what you need from the submodules (``sharpeyes.onvif.client.OnvifClient``…).
"""

from __future__ import annotations

from sharpeyes.onvif.settings import import_onvif_client

import_onvif_client()
