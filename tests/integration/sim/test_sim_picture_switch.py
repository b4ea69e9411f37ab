"""A picture change (healthy <-> a picture fault) restarts the camera's streams, and nothing else: a client in
the middle of OPTIONS/DESCRIBE keeps its connection and gets its answer, as from a real camera whose picture
went black. Found by ``benchmarks/crash_restart.py``: aborting every connection made a liveness DESCRIBE in
flight fail (``protocol``), a one-probe outage the simulator's truth said did not happen."""

from __future__ import annotations

import pytest

from sharpeyes.sim.faults import parse_fault
from tests.integration.sim.clients import RawRtsp
from tests.integration.sim.conftest import PASSWORD, USER, SimSite


def test_picture_change_drops_streams_but_not_control_connections(sim_site: SimSite) -> None:
    thread = sim_site.thread
    assert thread is not None
    url = sim_site.rtsp_url("basic", auth=False)
    auth = (USER, PASSWORD)
    control = RawRtsp(sim_site.host("basic"), sim_site.rtsp_port)
    viewer = RawRtsp(sim_site.host("basic"), sim_site.rtsp_port)
    try:
        assert control.request("OPTIONS", url)[0].endswith("200 OK")
        assert viewer.play(url, auth).endswith("200 OK")
        viewer.interleaved()  # streaming
        for fault in ("black", None):  # to a picture fault and back: each restarts the streams
            thread.call(thread.fleet.set_fault("basic", parse_fault(fault)))
            status, _, body = control.request("DESCRIBE", url, auth=auth, headers={"Accept": "application/sdp"})
            assert status.endswith("200 OK") and b"m=video" in body, (fault, status)
            with pytest.raises(ConnectionError):  # the viewer was cut (not a timeout): it reconnects to the new picture
                for _ in range(500):
                    viewer.interleaved()
            viewer.close()
            viewer = RawRtsp(sim_site.host("basic"), sim_site.rtsp_port)
            assert viewer.play(url, auth).endswith("200 OK")
            viewer.interleaved()
    finally:
        thread.call(thread.fleet.set_fault("basic", None))
        control.close()
        viewer.close()
