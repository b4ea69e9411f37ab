"""The simulator's pictures are measurably what they claim (ground truth for frame health)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sharpeyes.probers.base import FaultCode
from sharpeyes.sim.picture import Frame, scene_frames


def _frames(fault: FaultCode | None, n: int = 26) -> list[Frame]:
    return list(scene_frames(320, 180, 25, n, fault=fault))


def _gray(frame: Frame) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _sharpness(frame: Frame) -> float:
    return float(cv2.Laplacian(_gray(frame), cv2.CV_64F).var())


def _below_osd(frame: Frame) -> Frame:
    """The picture under the OSD band: the OSD clock is burnt in after the lens, so it stays sharp over faults."""
    return frame[frame.shape[0] // 6 :]


def test_healthy_frames_move_and_frozen_frames_do_not() -> None:
    healthy, frozen = _frames(None), _frames(FaultCode.FROZEN)
    assert np.abs(healthy[0].astype(int) - healthy[25]).mean() > 2.0
    assert np.array_equal(frozen[0], frozen[25])


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (FaultCode.BLACK, lambda f, h: _gray(f).mean() < 15),
        (FaultCode.OVEREXPOSED, lambda f, h: _gray(f).mean() > 220),
        (FaultCode.LOW_CONTRAST, lambda f, h: _gray(_below_osd(f)).std() < 0.3 * _gray(_below_osd(h)).std()),
        (FaultCode.BLUR, lambda f, h: _sharpness(_below_osd(f)) < 0.05 * _sharpness(_below_osd(h))),
        (FaultCode.NOISE, lambda f, h: _sharpness(f) > 20 * _sharpness(h)),
        (FaultCode.SIGNAL_LOSS, lambda f, h: f[..., 2].mean() > 150 > f[..., 0].mean()),
    ],
)
def test_fault_is_measurably_what_it_claims(fault: FaultCode, check: object) -> None:
    assert callable(check)
    assert check(_frames(fault, 1)[0], _frames(None, 1)[0])


def test_strength_and_size_are_validated() -> None:
    with pytest.raises(ValueError, match="strength"):
        next(scene_frames(320, 180, 25, 1, strength=0))
    with pytest.raises(ValueError, match="even"):
        next(scene_frames(321, 180, 25, 1))


def test_frozen_picture_with_a_ticking_osd_clock() -> None:
    frames = list(scene_frames(320, 180, 25, 26, fault=FaultCode.FROZEN, seed=1))
    assert not np.array_equal(frames[0], frames[25])  # the clock ticked
    assert np.array_equal(_below_osd(frames[0]), _below_osd(frames[25]))  # the picture did not


@pytest.mark.parametrize("seed", range(4))
def test_signal_loss_screens_are_uniform_in_several_colours(seed: int) -> None:
    frame = next(scene_frames(320, 180, 25, 1, fault=FaultCode.SIGNAL_LOSS, seed=seed))
    median = np.median(frame.reshape(-1, 3), axis=0)
    assert (np.abs(frame.astype(int) - median).max(axis=2) <= 2).mean() > 0.9


@pytest.mark.parametrize("scene", ["night", "wall", "soft", "still"])
def test_borderline_scenes_render_and_move(scene: str) -> None:
    frames = list(scene_frames(320, 180, 25, 26, scene=scene))
    assert frames[0].shape == (180, 320, 3)
    assert not np.array_equal(_below_osd(frames[0]), _below_osd(frames[25]))
