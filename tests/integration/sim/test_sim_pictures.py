"""Picture faults are measurably what they claim, on frames decoded by PyAV from the simulator's RTSP streams."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from tests.integration.sim.clients import Frame, pyav_frames
from tests.integration.sim.conftest import PICTURES, SimSite

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True)
class Stats:
    """Simple statistics of the first frame, and of its change over one second (25 frames), OSD band excluded."""

    mean: float
    std: float
    sharpness: float  # Laplacian variance
    change: float  # mean absolute difference, frame 0 vs frame 25
    rgb: tuple[float, float, float]
    stripes: float  # std of row means around their smooth trend
    flat_dark: float  # share of the picture that is dark and featureless
    thumb: np.ndarray

    @property
    def cast(self) -> float:
        return max(self.rgb) - min(self.rgb)


def stats(frames: list[Frame]) -> Stats:
    """Statistics below the OSD band (the clock is burnt in on top of every picture, faulty or not)."""
    band = frames[0].shape[0] // 5
    first, later = frames[0][band:], frames[25][band:]
    gray = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY)
    rows = gray.mean(axis=1).astype(np.float32)
    trend = cv2.GaussianBlur(rows.reshape(-1, 1), (1, 31), 0).ravel()
    g = gray.astype(np.float32)
    local_std = np.sqrt(np.maximum(cv2.blur(g * g, (9, 9)) - cv2.blur(g, (9, 9)) ** 2, 0))
    flat_dark = float(((local_std < 3) & (g < 60)).mean())
    r, gr, b = (float(v) for v in first.reshape(-1, 3).mean(axis=0))
    return Stats(
        mean=float(gray.mean()),
        std=float(gray.std()),
        sharpness=float(cv2.Laplacian(gray, cv2.CV_64F).var()),
        change=float(np.abs(first.astype(np.int16) - later.astype(np.int16)).mean()),
        rgb=(r, gr, b),
        stripes=float((rows - trend).std()),
        flat_dark=flat_dark,
        thumb=cv2.resize(gray, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32),
    )


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def measured(sim_site: SimSite) -> dict[str, Stats]:
    def one(mode: str) -> Stats:
        return stats(pyav_frames(sim_site.rtsp_url(f"pic-{mode}"), 26))

    with ThreadPoolExecutor(len(PICTURES)) as pool:
        return dict(zip(PICTURES, pool.map(one, PICTURES), strict=True))


def test_healthy_is_a_moving_textured_picture(measured: dict[str, Stats]) -> None:
    h = measured["healthy"]
    assert 30 < h.mean < 200 and h.std > 15
    assert h.sharpness > 200
    assert h.change > 3  # pan + moving object


def test_frozen_does_not_change_in_a_second(measured: dict[str, Stats]) -> None:
    assert measured["frozen"].change == 0.0
    assert measured["healthy"].change > 3


def test_black_and_overexposed(measured: dict[str, Stats]) -> None:
    assert measured["black"].mean < 20
    assert measured["overexposed"].mean > 220


def test_low_contrast_is_flat(measured: dict[str, Stats]) -> None:
    assert measured["low_contrast"].std < 0.25 * measured["healthy"].std


def test_blur_has_far_less_detail(measured: dict[str, Stats]) -> None:
    assert measured["blur"].sharpness < 0.05 * measured["healthy"].sharpness


def test_color_cast(measured: dict[str, Stats]) -> None:
    assert measured["color_cast"].cast > measured["healthy"].cast + 40


def test_noise(measured: dict[str, Stats]) -> None:
    n, h = measured["noise"], measured["healthy"]
    assert n.sharpness > 10 * h.sharpness
    assert n.change > 3 * h.change


def test_stripes(measured: dict[str, Stats]) -> None:
    assert measured["stripes"].stripes > 10 * measured["healthy"].stripes


def test_occluded_covers_a_large_share(measured: dict[str, Stats]) -> None:
    assert measured["occluded"].flat_dark > 0.3
    assert measured["occluded"].flat_dark > measured["healthy"].flat_dark + 0.25


def test_signal_loss_is_a_uniform_no_video_screen(measured: dict[str, Stats]) -> None:
    s = measured["signal_loss"]
    r, g, b = s.rgb
    assert b > 150 and r < 60 and g < 60
    assert s.change < 1


def test_scene_changed_looks_elsewhere(measured: dict[str, Stats]) -> None:
    ref = measured["healthy"].thumb
    assert similarity(measured["scene_changed"].thumb, ref) < 0.5
    assert similarity(measured["blur"].thumb, ref) > 0.9  # same view, only softer
