"""zeep settings for untrusted peers, and a side-effect-free import of onvif-zeep-async."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from zeep.settings import Settings


def hardened_settings() -> Any:
    """zeep settings for parsing what a camera sends: strict, no DTD, no entities, no external refs.

    zeep reads these from the *client* when it parses a response: ``strict`` turns off lxml's ``recover``
    (malformed or truncated XML is an error, never silently repaired), ``xml_huge_tree=False`` keeps lxml's
    limits on depth and text size, and the three ``forbid_*`` reject any DTD, entity or external reference.
    """
    return Settings(
        strict=True,
        xml_huge_tree=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
        raw_response=False,
    )


def schema_settings() -> Any:
    """Settings for the WSDL/XSD documents: as :func:`hardened_settings` but with lenient XSD binding.

    zeep reads ``strict`` from the *document* when it binds parsed XML to XSD types. Strict binding rejects
    answers that omit schema-required elements, which real cameras do: ipycam's GetProfiles leaves out
    ``VideoSourceConfiguration/UseCount``. So binding is lenient (missing elements become None, unknown ones
    are skipped), XML parsing stays strict, and the prober checks the fields it relies on itself.
    """
    settings = hardened_settings()
    settings.strict = False
    return settings


def import_onvif_client() -> ModuleType:
    """Import ``onvif.client`` without its import-time ``logging.basicConfig`` touching our root logger.

    Every use of onvif-zeep-async in sharpeyes goes through the module this returns (never ``import onvif``
    directly), so the guard always runs first.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import onvif.client

        module: ModuleType = onvif.client
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return module
