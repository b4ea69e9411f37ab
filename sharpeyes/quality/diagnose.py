"""Run every analyser on a frame and apply the precedence rules (docs/quality.md).

Precedence, so one cause is reported once and not as a cascade of its symptoms:
1. ``signal_loss`` alone: a "no video" screen is also dark, flat and still, but those are its consequences.
2. ``black`` / ``overexposed`` next: nothing else can be judged on a picture that shows nothing.
3. Otherwise each analyser reports on its own, except that:
   - a scene that no longer matches the reference is judged without it (the reference no longer applies);
   - ``low_contrast`` is not reported when the view is ``occluded`` (a dark cover flattens the histogram);
   - ``scene_changed`` is not reported when the view is ``occluded``, striped or washed flat (the cover, the
     bands or the fog, not a turned camera, spoil the match).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality import colour, exposure, motion, sharpness, signature, stripes
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import Prepared
from sharpeyes.quality.signature import Signature
from sharpeyes.quality.thresholds import Thresholds


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The faults found (in FaultCode order), every measured score by code, and the frame's signature."""

    faults: tuple[FaultCode, ...]
    scores: Mapping[str, float]
    signature: Signature

    @property
    def healthy(self) -> bool:
        return not self.faults


def _clear(finding: Finding) -> Finding:
    return Finding(finding.code, finding.score, False)


def _picture(p: Prepared, current: Signature, reference: Signature | None, t: Thresholds) -> dict[FaultCode, Finding]:
    """Findings on a picture that shows something (no signal loss, not black or overexposed)."""
    found = {f.code: f for f in (exposure.low_contrast(p, t), sharpness.noise(p, t), stripes.stripes(p, t))}
    changed = signature.scene_changed(current, reference, t) if reference is not None else None
    usable = reference if changed is not None and not changed.fault else None
    found[FaultCode.BLUR] = sharpness.blur(p, t, usable.blur_index if usable else None)
    if usable is not None:
        found[FaultCode.COLOR_CAST] = signature.color_cast_against(current, usable, t)
    else:
        found[FaultCode.COLOR_CAST] = colour.color_cast(p, t)
    if reference is not None and changed is not None:
        occluded = signature.occluded(current, reference, t)
        found[FaultCode.OCCLUDED] = occluded
        if occluded.fault:
            found[FaultCode.LOW_CONTRAST] = _clear(found[FaultCode.LOW_CONTRAST])
        if occluded.fault or found[FaultCode.STRIPES].fault or found[FaultCode.LOW_CONTRAST].fault:
            changed = _clear(changed)
        found[FaultCode.SCENE_CHANGED] = changed
    return found


def diagnose(
    first: Prepared,
    second: Prepared | None = None,
    *,
    reference: Signature | None = None,
    last: Signature | None = None,
    thresholds: Thresholds | None = None,
) -> Diagnosis:
    """Diagnose ``first`` (plus ``second``, taken ≥ 1 s later, for the in-probe freeze check).

    ``reference`` is the camera's accepted view, ``last`` the signature stored by its previous probe. The frozen
    verdict comes from the two frames when ``second`` is given, else from ``last``.
    """
    t = thresholds or Thresholds()
    current = Signature.of(first)
    found = {
        f.code: f for f in (exposure.signal_loss(first, t), exposure.black(first, t), exposure.overexposed(first, t))
    }
    if found[FaultCode.SIGNAL_LOSS].fault:
        found = {FaultCode.SIGNAL_LOSS: found[FaultCode.SIGNAL_LOSS]}
    elif not any(f.fault for f in found.values()):
        found |= _picture(first, current, reference, t)
        if second is not None:
            found[FaultCode.FROZEN] = motion.frozen_within(first, second, t)
        elif last is not None:
            found[FaultCode.FROZEN] = signature.frozen_across(current, last, t)
    faults = tuple(code for code in FaultCode if code in found and found[code].fault)
    scores = {code.value: f.score for code, f in found.items() if math.isfinite(f.score)}
    return Diagnosis(faults, scores, current)
