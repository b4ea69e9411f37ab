"""Rates (DESIGN.md §6) on hand-computed cases."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharpeyes.probers.base import FaultCode
from sharpeyes.rates import (
    ALL,
    IN_SERVICE,
    ONLINE_STATES,
    OUT_OF_SERVICE,
    CameraStatus,
    RateOptions,
    Ratio,
    StatePoint,
    TimeOnline,
    compute_groups,
    per_bucket_bulk,
    per_camera_bulk,
    segments_bulk,
    service_spans,
    state_segments,
    sum_time_online,
    time_online,
    time_online_buckets,
    time_online_groups,
    time_online_in_service,
)
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope

NOW = 1_800_000_000.0

CITY = District("C", "city", DistrictLevel.CITY)
D1 = District("D1", "east", DistrictLevel.DISTRICT, "C")
D2 = District("D2", "west (no areas)", DistrictLevel.DISTRICT, "C")
S1 = District("S1", "street", DistrictLevel.STREET, "D1")


def cam(cid: str, area: str, *, in_service: bool = True) -> Camera:
    return Camera(cid, cid, area, "127.0.0.1", in_service=in_service)


INV = Inventory(
    districts=(CITY, D1, D2, S1),
    areas=(
        # needs 2 healthy cameras, has only 1 healthy (the other is up but its picture is blurred)
        Area("a1", "square", "S1", Scope.PUBLIC, "square", required_cameras=2),
        # needs 1, has one healthy and one out of service
        Area("a2", "station", "D1", Scope.PUBLIC, "station", required_cameras=1),
        # a bank: its only camera is down
        Area("b1", "bank", "S1", Scope.SECTOR, "finance", required_cameras=1, sector="finance"),
    ),
    cameras=(
        cam("c1", "a1"),
        cam("c2", "a1"),
        cam("c3", "a2"),
        cam("c4", "a2", in_service=False),
        cam("c5", "b1"),
    ),
)

STATUSES = {
    "c1": CameraStatus(up=True, stream_reached_at=NOW - 10, frame_faults=()),
    "c2": CameraStatus(up=True, stream_reached_at=NOW - 10, frame_faults=(FaultCode.BLUR,)),
    "c3": CameraStatus(up=True, stream_reached_at=NOW - 5000, frame_faults=None),  # stale, never checked
    "c4": CameraStatus(up=True, stream_reached_at=NOW, frame_faults=()),  # out of service: ignored
    "c5": CameraStatus(up=False, stream_reached_at=NOW - 100, frame_faults=()),
}


def test_public_scope_at_the_street_level() -> None:
    g = compute_groups(INV, STATUSES, NOW)[("public", "S1")]
    assert (g.areas, g.areas_covered) == (1, 0)  # a1 needs 2 healthy, has 1
    assert (g.cameras, g.in_service, g.online, g.healthy, g.connected) == (2, 2, 2, 1, 2)
    assert g.image_quality == Ratio(1, 2)
    assert g.good_order.value == 0.5


def test_public_scope_at_the_district_level_includes_the_street() -> None:
    g = compute_groups(INV, STATUSES, NOW)[("public", "D1")]
    assert g.coverage == Ratio(1, 2)  # a2 covered by c3 (online, never checked → healthy by default)
    assert (g.cameras, g.in_service) == (4, 3)  # c4 out of service
    assert g.online_now == Ratio(3, 3)
    assert g.connection == Ratio(2, 3)  # c3's stream was last reached 5000 s ago > 3600 s freshness
    assert g.good_order == Ratio(2, 3)
    assert g.image_quality == Ratio(1, 2)  # c3 not checked
    assert g.frame_unchecked == 1


def test_sector_scope_and_all_scopes_city_wide() -> None:
    groups = compute_groups(INV, STATUSES, NOW)
    sector = groups[("sector", ALL)]
    assert sector.coverage == Ratio(0, 1)
    assert sector.online_now == Ratio(0, 1)
    assert sector.connection == Ratio(1, 1)  # reached 100 s ago though down now
    assert sector.good_order == Ratio(0, 1)  # down with a clean last picture is not healthy
    both = groups[(ALL, "C")]
    assert replace(both, district=ALL) == groups[(ALL, ALL)]  # every area lies under the city
    assert both.coverage == Ratio(1, 3)
    assert both.good_order == Ratio(2, 4)


def test_empty_district_has_zero_denominators_and_no_value() -> None:
    g = compute_groups(INV, STATUSES, NOW)[("public", "D2")]
    assert (g.areas, g.cameras, g.in_service) == (0, 0, 0)
    assert g.coverage.value is None and g.good_order.value is None


def test_strict_mode_needs_a_frame_check_to_be_healthy() -> None:
    g = compute_groups(INV, STATUSES, NOW, RateOptions(unchecked_is_healthy=False))[("public", "D1")]
    assert g.good_order == Ratio(1, 3)
    assert g.coverage == Ratio(0, 2)


def test_never_probed_camera_is_not_online_and_area_requiring_zero_is_covered() -> None:
    inv = Inventory(
        districts=(CITY,),
        areas=(Area("z", "z", "C", Scope.PUBLIC, "x", 0), Area("y", "y", "nowhere", Scope.PUBLIC, "x", 1)),
        cameras=(cam("n1", "y"),),
    )
    groups = compute_groups(inv, {}, NOW)
    assert groups[("public", "C")].coverage == Ratio(1, 1)  # 'y' has an unknown district: city-wide only
    assert groups[("public", ALL)].coverage == Ratio(1, 2)
    assert groups[("public", ALL)].online_now == Ratio(0, 1)


def test_time_online_with_transitions_crossing_both_edges() -> None:
    pts = [
        StatePoint(50, "down"),  # before the window: sets the state at its start
        StatePoint(120, "up"),
        StatePoint(150, "fault"),  # a picture fault of a live camera is still online
        StatePoint(170, "down"),
        StatePoint(250, "up"),  # after the window
    ]
    t = time_online(reversed(pts), 100, 200)
    assert (t.seconds_up, t.seconds_known, t.seconds_window) == (50, 100, 100)
    assert t.ratio.value == 0.5


def test_time_online_unknown_before_first_transition_and_empty_window() -> None:
    t = time_online([StatePoint(160, "up")], 100, 200)
    assert (t.seconds_up, t.seconds_known) == (40, 40)
    assert time_online([], 100, 200).ratio.value is None
    assert time_online([StatePoint(0, "up")], 200, 100).seconds_window == 0


def test_time_online_groups_sum_cameras_and_skip_out_of_service() -> None:
    pts = {
        "c1": [StatePoint(0, "up")],
        "c2": [StatePoint(0, "down")],
        "c4": [StatePoint(0, "up")],
    }
    g = time_online_groups(INV, pts, 100, 200)
    assert g[("public", "S1")].ratio == Ratio(100, 200)
    assert g[("public", "D1")].seconds_window == 300  # c1, c2, c3 (not c4)
    assert g[("sector", "D2")].seconds_known == 0


# --- service spans, segments, buckets, sums ----------------------------------------------------------------


def test_service_spans_without_service_transitions_follow_the_current_flag() -> None:
    assert service_spans([], 100, 200, True) == [(100, 200)]
    assert service_spans([], 100, 200, False) == []


def test_service_spans_out_of_service_mid_window_and_back() -> None:
    pts = [StatePoint(150, OUT_OF_SERVICE), StatePoint(180, IN_SERVICE)]
    # in service before 150 (the first change is *to* out), out 150-180, back from 180
    assert service_spans(pts, 100, 200, True) == [(100, 150), (180, 200)]
    # a change before the window decides the state at its left edge; changes after its end are ignored
    assert service_spans([StatePoint(50, OUT_OF_SERVICE), StatePoint(250, IN_SERVICE)], 100, 200, True) == []
    assert service_spans([StatePoint(120, IN_SERVICE)], 100, 200, True) == [(120, 200)]


def test_state_segments_skip_unknown_time_and_clip_to_the_window() -> None:
    pts = [StatePoint(120, "up"), StatePoint(90, "down"), StatePoint(140, "fault"), StatePoint(300, "down")]
    assert state_segments(pts, 100, 200) == [(100, 120, "down"), (120, 140, "up"), (140, 200, "fault")]
    assert state_segments([StatePoint(150, "up")], 100, 200) == [(150, 200, "up")]


def test_time_online_in_service_counts_only_service_time() -> None:
    # up from 50 to 130, down 130-170, up from 170; in service 100-150 only: 30 s up of 50 s known
    pts = [StatePoint(50, "up"), StatePoint(130, "down"), StatePoint(170, "up")]
    t = time_online_in_service(pts, [(100, 150)])
    assert (t.seconds_up, t.seconds_known, t.seconds_window) == (30, 50, 50)


def test_time_online_buckets_split_at_the_edges() -> None:
    # days of 100 s: [0,100) [100,200) [200,300); up 50-150, down 150-250, up from 250; out of service 260-280
    pts = [StatePoint(50, "up"), StatePoint(150, "down"), StatePoint(250, "up")]
    b = time_online_buckets(pts, [(0, 260), (280, 300)], [0, 100, 200, 300])
    assert [(x.seconds_up, x.seconds_known, x.seconds_window) for x in b] == [
        (50, 50, 100),
        (50, 100, 100),
        (10 + 20, 50 + 30, 80),
    ]


def test_sum_time_online_adds_cameras_to_every_level() -> None:
    per = {"c1": TimeOnline(10, 20, 30), "c4": TimeOnline(5, 5, 30), "ghost": TimeOnline(1, 1, 1)}
    g = sum_time_online(INV, per)
    assert g[("public", "S1")] == TimeOnline(10, 20, 30)
    assert g[(ALL, ALL)] == TimeOnline(15, 25, 60)


# --- the numpy bulk form agrees with the per-camera functions ---------------------------------------------

_points = st.lists(
    st.tuples(st.integers(0, 3), st.integers(-50, 350), st.sampled_from(["up", "down", "fault"])), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(
    rows=_points,
    start=st.integers(0, 150),
    length=st.integers(1, 200),
    cuts=st.lists(st.floats(0.01, 0.99), max_size=6, unique=True),
)
def test_bulk_time_online_matches_time_online(
    rows: list[tuple[int, int, str]], start: int, length: int, cuts: list[float]
) -> None:
    end = start + length
    seg = segments_bulk(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] in ONLINE_STATES for r in rows], dtype=bool),
        start,
        end,
    )
    up, known = per_camera_bulk(seg, 4)
    edges = [start, *sorted(start + length * c for c in cuts), end]
    b_up, b_known = per_bucket_bulk(seg, edges)
    expected_buckets = [TimeOnline(0, 0, 0)] * (len(edges) - 1)
    for cam in range(4):
        pts = [StatePoint(at, state) for c, at, state in rows if c == cam]
        t = time_online(pts, start, end)
        assert (up[cam], known[cam]) == pytest.approx((t.seconds_up, t.seconds_known))
        per = time_online_buckets(pts, [(start, end)], edges)
        expected_buckets = [x + y for x, y in zip(expected_buckets, per, strict=True)]
    assert b_up == pytest.approx([x.seconds_up for x in expected_buckets])
    assert b_known == pytest.approx([x.seconds_known for x in expected_buckets])


def test_bulk_masks_pieces_and_handles_no_rows() -> None:
    seg = segments_bulk(np.array([0, 1]), np.array([0.0, 50.0]), np.array([True, False]), 0, 100)
    assert per_bucket_bulk(seg, [0, 100], mask=seg.camera == 0) == ([100.0], [100.0])
    empty = segments_bulk(np.array([], dtype=np.int64), np.array([]), np.array([], dtype=bool), 0, 100)
    assert per_bucket_bulk(empty, [0, 50, 100]) == ([0.0, 0.0], [0.0, 0.0])
    assert [list(x) for x in per_camera_bulk(empty, 2)] == [[0.0, 0.0], [0.0, 0.0]]
