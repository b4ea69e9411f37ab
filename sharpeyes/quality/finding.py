"""The outcome of one analyser: a score (in the analyser's own documented unit) and a verdict."""

from __future__ import annotations

from dataclasses import dataclass

from sharpeyes.probers.base import FaultCode


@dataclass(frozen=True, slots=True)
class Finding:
    """One analyser's measurement of one frame: ``score`` compared with a threshold gives ``fault``."""

    code: FaultCode
    score: float
    fault: bool
