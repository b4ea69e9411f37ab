"""Fault parsing, sim config, camera building and the demo fault mix."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from sharpeyes.errors import UserError
from sharpeyes.probers.base import FaultCode
from sharpeyes.registry.inventory import Camera
from sharpeyes.sim.auth import AuthMode
from sharpeyes.sim.faults import CATALOGUE, SimFault, fault_from_tags, parse_fault
from sharpeyes.sim.fleet import SimConfig, build_camera, demo_faults, demo_host, load_sim_config, synthetic_inventory
from sharpeyes.sim.media import ClipSpec, parse_size, split_annexb


def test_parse_fault() -> None:
    assert parse_fault(None) is None and parse_fault("none") is None and parse_fault(" ") is None
    slow = parse_fault("slow:2.5")
    assert slow is not None and slow.kind is SimFault.SLOW and slow.number(0, 1) == 2.5 and str(slow) == "slow:2.5"
    blur = parse_fault("BLUR:0.5")
    assert blur is not None and blur.picture is FaultCode.BLUR
    lock = parse_fault("lockout:3:60")
    assert lock is not None and (lock.number(0, 0), lock.number(1, 0)) == (3, 60)
    skew = parse_fault("clock_skew:-30")
    assert skew is not None and skew.number(0, 0) == -30


@pytest.mark.parametrize("text", ["nope", "slow:x", "slow:1:2", "blur:2", "malformed:html", "offline:1", "drip:-1"])
def test_bad_faults_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fault(text)


def test_catalogue_has_every_named_fault() -> None:
    assert set(CATALOGUE) >= {"offline", "blackhole", "slow", "drip", "reset", "auth_fail", "not_found"}
    assert set(CATALOGUE) >= {"no_media", "malformed", "lockout", "clock_skew"} | {f.value for f in FaultCode}


def _camera(tags: tuple[str, ...] = (), host: str = "127.20.0.1") -> Camera:
    return Camera(id="C1", name="c", area="A", host=host, rtsp_url=f"rtsp://{host}:8554/x", tags=tags)


def test_fault_precedence_config_then_tag_then_default() -> None:
    tagged = _camera(("sim.fault=noise:0.5", "sim.auth=basic"))
    assert fault_from_tags(tagged.tags) == parse_fault("noise:0.5")
    assert str(build_camera(tagged, SimConfig()).fault) == "noise:0.5"
    assert build_camera(tagged, SimConfig()).auth is AuthMode.BASIC
    config = SimConfig.model_validate({"cameras": {"C1": "offline"}, "defaults": {"fault": "slow"}})
    assert str(build_camera(tagged, config).fault) == "offline"
    assert str(build_camera(replace(_camera(), id="C2"), config).fault) == "slow"


def test_non_loopback_hosts_are_refused() -> None:
    with pytest.raises(UserError, match="loopback"):
        build_camera(_camera(host="10.1.2.3"), SimConfig())


def test_sim_config_file(tmp_path: Path) -> None:
    path = tmp_path / "f.yml"
    path.write_text("defaults: {auth: basic}\ncameras:\n  A: blur\n  B: {fault: slow:3, start_on_keyframe: true}\n")
    config = load_sim_config(path)
    assert config.cameras["A"].fault == "blur" and config.cameras["B"].start_on_keyframe
    path.write_text("cameras:\n  A: bogus\n")
    with pytest.raises(UserError, match="unknown fault"):
        load_sim_config(path)
    path.write_text("cameras: [\n")
    with pytest.raises(UserError, match="YAML"):
        load_sim_config(path)


def test_demo_mix_is_seeded_about_ten_percent_and_covers_the_catalogue() -> None:
    ids = [f"C{i:04d}" for i in range(1000)]
    mix = demo_faults(ids, seed=3)
    assert mix == demo_faults(ids, seed=3) and mix != demo_faults(ids, seed=4)
    assert len(mix) == 100
    counts = Counter(mix.values())
    assert set(counts) == set(CATALOGUE)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_demo_address_convention() -> None:
    assert demo_host(0) == "127.20.0.1" and demo_host(249) == "127.20.0.250" and demo_host(250) == "127.20.1.1"
    camera = synthetic_inventory(1, first=251).cameras[0]
    assert camera.rtsp_url == "rtsp://127.20.1.2:8554/Streaming/Channels/101"
    assert camera.onvif_url == "http://127.20.1.2:8080/onvif/device_service"


def test_split_annexb_and_sizes() -> None:
    stream = b"\x00\x00\x00\x01\x67abc\x00\x00\x01\x68de\x00\x00\x00\x01\x65" + b"x" * 5
    assert split_annexb(stream) == [b"\x67abc", b"\x68de", b"\x65xxxxx"]
    assert parse_size("720p") == (1280, 720) and parse_size("640x360") == (640, 360)
    with pytest.raises(ValueError):
        parse_size("641x360")
    assert ClipSpec().key() == ClipSpec().key() != ClipSpec(fault=FaultCode.BLUR).key()


def test_the_demo_registry_reads_through_the_registry_reader() -> None:
    from sharpeyes.cli_sim import _demo_paths, _read_registry

    inventory = _read_registry(_demo_paths(Path("config/demo")))
    assert len(inventory.cameras) >= 250
    cameras = [build_camera(c, SimConfig()) for c in inventory.cameras if c.in_service]
    assert all(c.rtsp is not None and c.rtsp.host.startswith("127.20.") for c in cameras)
    assert {c.size for c in cameras} >= {(1920, 1080)}
    with pytest.raises(UserError, match="not found"):
        _demo_paths(Path("no/such/dir"))


def test_the_example_sim_config_is_valid() -> None:
    config = load_sim_config(Path("config/sim-faults.example.yml"))
    assert config.cameras["15020200001320000002"].fault == "blur:0.8"
    assert config.cameras["15020200001320000005"].scene == "coffee"


def test_clips_encode_in_both_profiles_and_are_cached(tmp_path: Path) -> None:
    from sharpeyes.sim.media import clip_path, load_clip

    for profile, idc in (("baseline", "42"), ("main", "4D")):
        spec = ClipSpec(width=64, height=36, seconds=4, profile=profile)
        clip = load_clip(spec, tmp_path)
        assert clip.profile_level_id.startswith(idc)
        assert len(clip.units) == 100 and [i for i, u in enumerate(clip.units) if u.key] == [0, 50]
        assert clip.jpeg[:2] == b"\xff\xd8"
        assert clip_path(spec, tmp_path).exists()
        assert load_clip(spec, tmp_path) == clip  # read back from the cache, identical
