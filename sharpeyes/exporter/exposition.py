"""A lean Prometheus text-format (0.0.4) writer for a registry's families.

prometheus-client's ``generate_latest`` re-validates every label *name* and re-escapes every label value of
every sample; at 20,000 cameras (~85,000 samples) that is most of a scrape. Here label names come from our
own code (fixed, valid), and each distinct label value is escaped once per scrape. The output is the same
exposition (a test parses both and compares them, and runs ``promtool check metrics`` on it). Only the
metric types the daemon emits are supported: gauge, counter, histogram.
"""

from __future__ import annotations

import math

from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TYPES = {"gauge": "gauge", "counter": "counter", "histogram": "histogram", "unknown": "untyped"}


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """Integral values without a fraction (counts are most samples), else Python's shortest repr."""
    if math.isfinite(value):
        as_int = int(value)
        if as_int == value and abs(as_int) < 10**15:
            return str(as_int)
        return repr(float(value))
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def render(registry: Collector) -> bytes:
    """The registry's families in the Prometheus text format."""
    out: list[str] = []
    escaped: dict[str, str] = {}
    for family in registry.collect():
        mtype = _TYPES.get(family.type)
        if mtype is None:
            raise ValueError(f"metric type {family.type!r} is not supported by this writer")
        name = family.name + "_total" if family.type == "counter" else family.name
        out.append(f"# HELP {name} {_escape_help(family.documentation)}\n# TYPE {name} {mtype}\n")
        for sample in family.samples:
            if sample.labels:
                parts = []
                for key, value in sample.labels.items():
                    esc = escaped.get(value)
                    if esc is None:
                        esc = escaped[value] = _escape_value(value)
                    parts.append(f'{key}="{esc}"')
                out.append(f"{sample.name}{{{','.join(parts)}}} {_number(sample.value)}\n")
            else:
                out.append(f"{sample.name} {_number(sample.value)}\n")
    return "".join(out).encode("utf-8", "replace")
