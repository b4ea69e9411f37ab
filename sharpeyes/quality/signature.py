"""A small per-camera signature (≈5 KB as bytes) and the analysers that compare against one.

The signature is a 96×54 luma thumbnail plus the mean chroma (Lab a, b) of the body. It is stored per camera as
``last`` (for the across-probe freeze check) and ``reference`` (the view an operator accepted, for
``scene_changed``, ``occluded`` and the reference-based ``color_cast``).

Comparisons are shift-tolerant: the centre 70 % of the reference thumbnail is searched for in the current one
(normalised cross-correlation), so wind sway or a small pan does not count as a changed scene, and the best
offset aligns the two views for the occlusion check.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import OSD_BOTTOM, OSD_TOP, U8, Prepared
from sharpeyes.quality.sharpness import blur_index
from sharpeyes.quality.thresholds import Thresholds

THUMB_W, THUMB_H = 96, 54
_MAGIC = b"SEF1"
_HEADER = struct.Struct("<4sHHfff")
_MARGIN = 0.15  # share of the reference thumbnail cut from each side before searching for it
_CELL = 6  # thumbnail pixels per occlusion cell side
_DETAILED = 4.0  # luma std for a reference cell to count as "detailed"
_FLAT = 3.0  # luma std under which a cell is "flat" now
_SQUARE5 = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
_SQUARE7 = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
_MIN_DETAIL = 0.03  # share of detailed pixels needed to match at all


@dataclass(frozen=True, slots=True)
class Signature:
    """A frame's thumbnail (THUMB_H×THUMB_W uint8 luma), mean body chroma (Lab a, b; neutral is 128) and its
    blur index (NaN when the frame had no detail to judge)."""

    thumb: U8
    chroma_a: float
    chroma_b: float
    blur_index: float

    @classmethod
    def of(cls, p: Prepared) -> Signature:
        thumb = np.asarray(cv2.resize(p.gray, (THUMB_W, THUMB_H), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        _, a, b, _ = cv2.mean(p.lab_body)
        return cls(thumb, float(a), float(b), blur_index(p))

    def to_bytes(self) -> bytes:
        header = _HEADER.pack(_MAGIC, THUMB_W, THUMB_H, self.chroma_a, self.chroma_b, self.blur_index)
        return header + self.thumb.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Parse stored bytes; raises ValueError on anything that is not a signature of this version."""
        if len(data) != _HEADER.size + THUMB_W * THUMB_H:
            raise ValueError("frame signature has the wrong size")
        magic, w, h, a, b, index = _HEADER.unpack_from(data)
        if magic != _MAGIC or (w, h) != (THUMB_W, THUMB_H):
            raise ValueError("not a frame signature of this version")
        thumb = np.frombuffer(data, dtype=np.uint8, offset=_HEADER.size).reshape(THUMB_H, THUMB_W).copy()
        return cls(thumb, a, b, index)


def _rows() -> slice:
    return slice(round(THUMB_H * OSD_TOP), THUMB_H - round(THUMB_H * OSD_BOTTOM))


def _detail_mask(thumb: U8) -> U8:
    """Pixels with local detail, relative to the picture's own contrast (so fog does not make everything blank).

    Large blank areas (a cover, a clear sky) and their borders are left out: they carry no evidence of where the
    view points, and a cover's edge is not part of the scene.
    """
    f = thumb.astype(np.float32)
    mean = cv2.blur(f, (5, 5))
    var = cv2.blur(f * f, (5, 5)) - mean * mean
    floor = max(0.25, (0.06 * float(f.std())) ** 2)
    flat = (var <= floor).astype(np.uint8)
    large_flat = cv2.morphologyEx(flat, cv2.MORPH_OPEN, _SQUARE5)
    return np.asarray(1 - cv2.dilate(large_flat, _SQUARE7), dtype=np.uint8)


_last_match: list[tuple[Signature, Signature, tuple[float, int, int]]] = []


def match(current: Signature, reference: Signature) -> tuple[float, int, int]:
    """:func:`_match`, remembered for the last pair (the scene and occlusion checks share one search).

    The pair itself is held with its result, so a later pair can never be mistaken for it.
    """
    if _last_match and _last_match[0][0] is current and _last_match[0][1] is reference:
        return _last_match[0][2]
    result = _match(current, reference)
    _last_match[:] = [(current, reference, result)]
    return result


def _match(current: Signature, reference: Signature) -> tuple[float, int, int]:
    """(best normalised correlation, dy, dx) such that ``reference[r + dy, c + dx] ≈ current[r, c]``.

    The current thumbnail, restricted to its detailed pixels, is searched for in the reference (padded by its
    edge pixels, for shifts up to 15 % of the view): a flat cover over part of the view then neither lowers the
    correlation nor misplaces the match.
    """
    my, mx = round(THUMB_H * _MARGIN), round(THUMB_W * _MARGIN)
    template = current.thumb.astype(np.float32)
    mask = _detail_mask(current.thumb)
    if float(mask.mean()) < _MIN_DETAIL or float(reference.thumb.std()) < 1.0:
        both_flat = float(_detail_mask(reference.thumb).mean()) < _MIN_DETAIL
        return (1.0 if both_flat and abs(float(template.mean()) - float(reference.thumb.mean())) < 10 else 0.0), 0, 0
    image = cv2.copyMakeBorder(reference.thumb, my, my, mx, mx, cv2.BORDER_REPLICATE).astype(np.float32)
    scores = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED, mask=mask.astype(np.float32))
    scores = np.nan_to_num(scores, nan=-1.0, posinf=-1.0, neginf=-1.0)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    return float(best), y - my, x - mx


def scene_changed(current: Signature, reference: Signature, t: Thresholds) -> Finding:
    """The camera no longer looks at its reference view: score is the best shift-tolerant correlation."""
    score = match(current, reference)[0]
    return Finding(FaultCode.SCENE_CHANGED, score, score < t.scene_match)


def _cell_std(thumb: U8) -> np.ndarray:
    h, w = (thumb.shape[0] // _CELL) * _CELL, (thumb.shape[1] // _CELL) * _CELL
    cells = thumb[:h, :w].astype(np.float32).reshape(h // _CELL, _CELL, w // _CELL, _CELL)
    return np.asarray(cells.std(axis=(1, 3)))


def _aligned(current: Signature, reference: Signature) -> tuple[U8, U8]:
    """The reference and current thumbnails (OSD rows cut) over the area where they overlap at the best offset."""
    _, dy, dx = match(current, reference)
    h, w = THUMB_H, THUMB_W
    r0, r1 = max(0, -dy), min(h, h - dy)
    c0, c1 = max(0, -dx), min(w, w - dx)
    cur = current.thumb[r0:r1, c0:c1]
    ref = reference.thumb[r0 + dy : r1 + dy, c0 + dx : c1 + dx]
    top, bottom = round(h * OSD_TOP), h - round(h * OSD_BOTTOM)
    keep = slice(max(0, top - r0), max(0, min(r1, bottom) - r0))
    return ref[keep], cur[keep]


def occluded(current: Signature, reference: Signature, t: Thresholds) -> Finding:
    """Part of the view covered. Score: the share of the reference's detailed cells that are flat now.

    A cover is partial and leaves the rest of the view as it was, so the verdict also needs the remaining
    detailed cells to keep their detail (fog flattens them all alike) and to still match the reference
    (a turned camera matches nowhere).
    """
    ref, cur = _aligned(current, reference)
    ref_std, cur_std = _cell_std(ref), _cell_std(cur)
    detailed = ref_std > _DETAILED
    if int(detailed.sum()) < 4:
        return Finding(FaultCode.OCCLUDED, float("nan"), False)
    flat = detailed & (cur_std < np.minimum(_FLAT, 0.3 * ref_std))
    share = float(flat.sum() / detailed.sum())
    rest = detailed & ~flat
    if share < t.occluded_share or int(rest.sum()) < 4:
        return Finding(FaultCode.OCCLUDED, share, False)
    kept = float(np.median(cur_std[rest] / ref_std[rest]))
    same_view = match(current, reference)[0] >= t.scene_match
    return Finding(FaultCode.OCCLUDED, share, kept >= 0.5 and same_view)


def frozen_across(current: Signature, last: Signature, t: Thresholds) -> Finding:
    """Across probes: the largest |Δ| of 2×2-averaged thumbnail pixels (OSD rows excluded) is tiny."""
    rows = _rows()
    diff = np.abs(current.thumb[rows].astype(np.float32) - last.thumb[rows].astype(np.float32))
    diff = np.asarray(cv2.blur(diff, (2, 2)))
    score = float(diff.max())
    return Finding(FaultCode.FROZEN, score, score <= t.frozen_signature_diff)


def color_cast_against(current: Signature, reference: Signature, t: Thresholds) -> Finding:
    """With a reference: the shift of the mean body chroma from the reference's, desaturation excluded.

    Fog, glare or a washed-out picture pull the chroma *towards neutral* along the reference's own colour; that
    part of the shift is removed, so only a push in a new direction (or further out) counts as a cast.
    """
    ref = np.array([reference.chroma_a - 128, reference.chroma_b - 128])
    shift = np.array([current.chroma_a - reference.chroma_a, current.chroma_b - reference.chroma_b])
    norm = float(np.hypot(*ref))
    if norm > 2.0:
        unit = ref / norm
        along = float(shift @ unit)
        if along < 0:
            shift = shift - along * unit
    score = float(np.hypot(*shift))
    return Finding(FaultCode.COLOR_CAST, score, score > t.color_cast_shift)
