"""A camera's "now" in the audit does not depend on the order its modules' last transitions are read in."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sharpeyes.audit.history import Last, camera_now
from sharpeyes.probers.base import FaultCode

PROBERS = {"rtsp_main": "rtsp", "rtsp_sub": "rtsp", "onvif_inventory": "onvif", "frame_a": "frame", "frame_b": "frame"}
END = 10_000.0


def test_between_two_modules_of_one_prober_the_latest_transition_speaks() -> None:
    older_up = Last("rtsp_main", "down", "up", "ok", 100.0)
    newer_down = Last("rtsp_sub", "up", "down", "refused", 200.0)
    for lasts in ([older_up, newer_down], [newer_down, older_up]):
        now = camera_now(lasts, END, PROBERS)
        assert (now.state, now.since, now.status.up) == ("down", 200.0, False)


def test_the_better_ranked_prober_speaks_before_a_later_one() -> None:
    rtsp_up = Last("rtsp_main", "down", "up", "ok", 100.0)
    onvif_down = Last("onvif_inventory", "up", "down", "timeout", 900.0)
    assert camera_now([onvif_down, rtsp_up], END, PROBERS).state == "up"


def test_the_latest_frame_module_gives_the_faults() -> None:
    blurred = Last("frame_a", "up", "fault", "blur", 300.0)
    clean = Last("frame_b", "fault", "up", "ok", 400.0)
    for lasts in ([blurred, clean], [clean, blurred]):
        assert camera_now(lasts, END, PROBERS).status.frame_faults == ()
    older_black = Last("frame_b", "up", "fault", "black", 100.0)
    assert camera_now([older_black, blurred], END, PROBERS).fault == FaultCode.BLUR.value


_last = st.builds(
    Last,
    st.sampled_from(sorted(PROBERS)),
    st.sampled_from(["up", "down", "fault"]),
    st.sampled_from(["up", "down", "fault"]),
    st.sampled_from(["ok", "refused", "timeout", "blur", "black", "no_media"]),
    st.sampled_from([100.0, 200.0, 300.0]),  # few times, so ties happen
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_last, max_size=6, unique_by=lambda x: x.module), st.randoms(use_true_random=False))
def test_any_order_of_the_same_lasts_gives_the_same_now(lasts: list[Last], rnd: random.Random) -> None:
    shuffled = list(lasts)
    rnd.shuffle(shuffled)
    assert camera_now(shuffled, END, PROBERS) == camera_now(lasts, END, PROBERS)
