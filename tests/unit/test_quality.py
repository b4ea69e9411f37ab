"""Frame-health analysers on hand-made frames: the rules docs/quality.md promises."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.diagnose import diagnose
from sharpeyes.quality.prepare import prepare, prepare_video_frame
from sharpeyes.quality.signature import Signature
from sharpeyes.quality.thresholds import Thresholds
from sharpeyes.settings import ProbeModule
from sharpeyes.sim.picture import Frame, scene_frames


def _frame(scene: str = "rocket", fault: FaultCode | None = None, second: int = 0, seed: int = 0) -> Frame:
    frames = list(scene_frames(640, 360, 1.0, second + 1, scene=scene, fault=fault, seed=seed))
    return frames[second]


def _osd(frame: Frame, text: str = "2026-01-01 08:00:00 CAM-17") -> Frame:
    out = frame.copy()
    cv2.putText(out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return out


def test_healthy_view_has_no_fault() -> None:
    ref = Signature.of(prepare(_frame()))
    d = diagnose(prepare(_frame(second=2)), prepare(_frame(second=3)), reference=ref)
    assert d.faults == ()
    assert d.healthy
    assert set(d.scores) >= {"blur", "noise", "frozen", "scene_changed", "occluded"}


def test_uniform_black_without_text_is_black_not_signal_loss() -> None:
    d = diagnose(prepare(np.zeros((360, 640, 3), np.uint8)))
    assert d.faults == (FaultCode.BLACK,)


@pytest.mark.parametrize("colour", [(16, 32, 190), (110, 110, 110)])
def test_mid_tone_uniform_screen_is_signal_loss_even_without_text(colour: tuple[int, int, int]) -> None:
    frame = np.empty((360, 640, 3), np.uint8)
    frame[:] = colour
    assert diagnose(prepare(frame)).faults == (FaultCode.SIGNAL_LOSS,)


def test_small_bright_ball_on_black_is_healthy() -> None:
    """gst videotestsrc pattern=ball: a dark scene with one solid bright object, and an OSD clock."""
    frame = np.zeros((360, 640, 3), np.uint8)
    cv2.circle(frame, (300, 180), 12, (255, 255, 255), -1)
    d = diagnose(prepare(_osd(frame)))
    assert FaultCode.BLACK not in d.faults
    assert FaultCode.SIGNAL_LOSS not in d.faults


def test_black_screen_with_no_video_message_is_signal_loss() -> None:
    frame = _osd(np.zeros((360, 640, 3), np.uint8))
    cv2.putText(frame, "NO VIDEO", (230, 180), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (235, 235, 235), 2)
    assert diagnose(prepare(frame)).faults == (FaultCode.SIGNAL_LOSS,)


def test_ticking_osd_clock_over_a_still_picture_is_frozen() -> None:
    first = _frame(fault=FaultCode.FROZEN, seed=1)
    later = _frame(fault=FaultCode.FROZEN, second=5, seed=1)
    assert not np.array_equal(first, later)
    assert FaultCode.FROZEN in diagnose(prepare(first), prepare(later)).faults


def test_small_motion_in_a_still_scene_is_live() -> None:
    d = diagnose(prepare(_frame("still")), prepare(_frame("still", second=1)))
    assert FaultCode.FROZEN not in d.faults
    assert d.scores["frozen"] > Thresholds().frozen_diff


def test_frozen_across_probes_with_one_frame() -> None:
    frame = _frame()
    last = Signature.of(prepare(frame))
    assert FaultCode.FROZEN in diagnose(prepare(frame), last=last).faults
    live = diagnose(prepare(_frame(second=2)), last=last)
    assert FaultCode.FROZEN not in live.faults


def test_osd_text_does_not_make_a_blurred_picture_sharp() -> None:
    blurred = _osd(np.asarray(cv2.GaussianBlur(_frame(), (0, 0), 6), dtype=np.uint8))
    assert FaultCode.BLUR in diagnose(prepare(blurred)).faults


def test_plain_wall_and_night_are_not_blur_or_noise() -> None:
    for scene in ("wall", "night"):
        d = diagnose(prepare(_frame(scene)))
        assert FaultCode.BLUR not in d.faults
        assert FaultCode.NOISE not in d.faults


def test_turned_camera_is_scene_changed_and_the_same_view_shifted_is_not() -> None:
    ref = Signature.of(prepare(_frame("rocket")))
    turned = diagnose(prepare(_frame("rocket", FaultCode.SCENE_CHANGED)), reference=ref)
    assert FaultCode.SCENE_CHANGED in turned.faults
    shifted = np.roll(_frame("rocket"), 30, axis=1)
    assert FaultCode.SCENE_CHANGED not in diagnose(prepare(shifted), reference=ref).faults


def test_signature_round_trips_through_bytes_and_rejects_garbage() -> None:
    sig = Signature.of(prepare(_frame()))
    data = sig.to_bytes()
    assert len(data) < 6000
    back = Signature.from_bytes(data)
    assert np.array_equal(back.thumb, sig.thumb)
    assert back.chroma_a == pytest.approx(sig.chroma_a)
    with pytest.raises(ValueError, match="size"):
        Signature.from_bytes(data[:-1])
    with pytest.raises(ValueError, match="version"):
        Signature.from_bytes(b"XXXX" + data[4:])


def test_thresholds_are_typed_and_strict() -> None:
    module = ProbeModule(name="frame_health", prober="frame", frame={"thresholds": {"noise_sigma": 9}})
    assert module.frame.thresholds.noise_sigma == 9.0
    with pytest.raises(ValidationError, match="noise_sigm"):
        ProbeModule(name="frame_health", prober="frame", frame={"thresholds": {"noise_sigm": 9}})


def test_prepare_downscales_and_rejects_grey_frames() -> None:
    p = prepare(np.zeros((1080, 1920, 3), np.uint8))
    assert (p.width, p.height) == (640, 360)
    with pytest.raises(ValueError, match="RGB"):
        prepare(np.zeros((360, 640), np.uint8))


def _video_frame(rgb: Frame, pix_fmt: str) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p", "yuv444p"])
def test_prepared_video_frames_match_the_rgb_path(pix_fmt: str) -> None:
    """Luma and half-size colour straight from the YUV planes agree with decoding to RGB and scaling that."""
    rgb = np.asarray(cv2.resize(_frame("chelsea"), (1920, 1080), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    picture = _video_frame(rgb, pix_fmt)
    p = prepare_video_frame(picture)
    reference = prepare(np.asarray(picture.to_ndarray(format="rgb24"), dtype=np.uint8))
    assert (p.width, p.height) == (640, 360)
    assert p.rgb_half.shape == reference.rgb_half.shape == (180, 320, 3)
    luma = np.abs(p.gray.astype(int) - reference.gray)
    assert float(luma.mean()) < 2.0 and int(np.percentile(luma, 99)) <= 6
    colour = np.abs(p.rgb_half.astype(int) - reference.rgb_half)
    assert float(colour.mean()) < 6.0
    assert diagnose(p).faults == diagnose(reference).faults


def test_full_range_video_is_not_expanded_twice() -> None:
    rgb = np.zeros((360, 640, 3), np.uint8)
    rgb[:, 320:] = 255
    for pix_fmt in ("yuv420p", "yuvj420p"):
        gray = prepare_video_frame(_video_frame(rgb, pix_fmt)).gray
        assert int(gray[:, :300].max()) <= 2 and int(gray[:, 340:].min()) >= 253, pix_fmt
