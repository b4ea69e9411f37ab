"""Registry files without a database: every problem as ``file:line: column: problem``."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpeyes.errors import InputError
from sharpeyes.probers.base import AuthPolicy
from sharpeyes.registry.inventory import Scope
from sharpeyes.registry.io import read_inventory, to_csv

DISTRICTS = (
    "code,name,level,parent\n150200,包头市,city,\n150203,昆都仑区,district,150200\n150203003,阿尔丁街道,street,150203\n"
)
AREAS = (
    "id,name,district,scope,sector,kind,required_cameras,lat,lon\n"
    "A1,阿尔丁广场,150203003,public,,square,2,40.65,109.84\n"
)
REFUSED = "password: a plaintext password is refused (allowed: password_env or password_file)"
CAM_HEADER = "id,name,area_id,host,rtsp_url,onvif_url,username,password_env\n"


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def base(tmp_path: Path) -> list[Path]:
    return [write(tmp_path, "districts.csv", DISTRICTS), write(tmp_path, "areas.csv", AREAS)]


def problems_for(tmp_path: Path, cameras: str, name: str = "cameras.csv") -> list[str]:
    with pytest.raises(InputError) as err:
        read_inventory([*base(tmp_path), write(tmp_path, name, cameras)])
    return err.value.problems


def test_reads_csv_with_and_without_bom(tmp_path: Path) -> None:
    cams = write(
        tmp_path,
        "cameras.csv",
        CAM_HEADER + "15020300001320000001,东门,A1,127.0.0.1,rtsp://127.0.0.1:554/s,http://127.0.0.1/onvif,admin,PW\n",
        bom=True,
    )
    inv = read_inventory([*base(tmp_path), cams])
    assert [d.code for d in inv.districts] == ["150200", "150203", "150203003"]
    assert inv.areas[0].scope == Scope.PUBLIC and inv.areas[0].required_cameras == 2
    cam = inv.cameras[0]
    assert (cam.area, cam.username, cam.password_env, cam.auth) == ("A1", "admin", "PW", AuthPolicy.DIGEST)


def test_kind_is_told_by_header_or_by_file_name(tmp_path: Path) -> None:
    renamed = write(tmp_path, "export-1.csv", DISTRICTS)  # header has "level"
    assert len(read_inventory([renamed]).districts) == 3
    by_name = write(tmp_path, "cameras_north.csv", "id,name,host\n")
    with pytest.raises(InputError) as err:
        read_inventory([by_name])
    assert err.value.problems == [f"{by_name}:1: area_id: required cameras column is missing"]
    unknown = write(tmp_path, "stuff.csv", "a,b\n1,2\n")
    with pytest.raises(InputError, match="cannot tell what this file holds"):
        read_inventory([unknown])


def test_ipv6_hosts_and_full_width_look_alike_ids(tmp_path: Path) -> None:
    cams = write(tmp_path, "cameras.csv", CAM_HEADER + "cam1,n,A1,::1,rtsp://[::1]:554/x,,,\nＣＡＭ１,n,A1,::2,,,,\n")
    with pytest.raises(InputError) as err:
        read_inventory([*base(tmp_path), cams])
    assert err.value.problems == [f"{cams}:3: id: duplicate camera id 'ＣＡＭ１' (already at {cams}:2 as 'cam1')"]


def test_duplicates_by_case_and_whitespace_and_unknown_area_all_listed(tmp_path: Path) -> None:
    found = problems_for(
        tmp_path,
        CAM_HEADER
        + "cam-1,东门,A1,127.0.0.1,,,,\n"
        + " CAM-1 ,西门,A1,127.0.0.2,,,,\n"
        + "cam-2,南门,A9,127.0.0.3,,,,\n",
    )
    path = tmp_path / "cameras.csv"
    assert found == [
        f"{path}:3: id: duplicate camera id 'CAM-1' (already at {path}:2 as 'cam-1')",
        f"{path}:4: area_id: unknown area 'A9'",
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "c,n,A1,127.0.0.1,http://127.0.0.1/x,,,",
            "rtsp_url: 'http://127.0.0.1/x': scheme 'http' is not allowed (allowed: rtsp, rtsps)",
        ),
        (
            "c,n,A1,127.0.0.1,,ftp://127.0.0.1/x,,",
            "onvif_url: 'ftp://127.0.0.1/x': scheme 'ftp' is not allowed (allowed: http, https)",
        ),
        (
            "c,n,A1,127.0.0.1,rtsp://127.0.0.2/x,,,",
            "rtsp_url: 'rtsp://127.0.0.2/x': host '127.0.0.2' differs from the camera's host '127.0.0.1'",
        ),
        ("c,n,A1,127.0.0.1,rtsp://127.0.0.1:99999/x,,,", "rtsp_url: 'rtsp://127.0.0.1:99999/x' is not a valid URL"),
        ("c,n,A1,not a host,,,,", "host: 'not a host' is not a host name or IP address"),
        ("c,n,A1,127.0.0.1,rtsp://127.0.0.1:0/x,,,", "rtsp_url: 'rtsp://127.0.0.1:0/x': port 0 (allowed: 1–65535)"),
        ("c,n,A1,::1,rtsp://[::2]:554/x,,,", "host '::2' differs from the camera's host '::1'"),
        ("c,n,A1,127.0.0.1,,,,bad-env", "password_env: 'bad-env' is not valid (allowed: an environment variable name)"),
        ("../etc,n,A1,127.0.0.1,,,,", "id: '../etc' is not valid"),
    ],
)
def test_field_problems(tmp_path: Path, row: str, expected: str) -> None:
    found = problems_for(tmp_path, CAM_HEADER + row + "\n")
    assert len(found) == 1 and expected in found[0] and found[0].startswith(f"{tmp_path / 'cameras.csv'}:2: ")


@pytest.mark.parametrize("password", ["p@ss:w/o#r?d%", "密码@:#/?%", "%40already%3Aencoded"])
def test_credentials_in_urls_are_refused_and_never_echoed(tmp_path: Path, password: str) -> None:
    found = problems_for(tmp_path, CAM_HEADER + f'c,n,A1,127.0.0.1,"rtsp://admin:{password}@127.0.0.1/x",,,\n')
    text = "\n".join(found)
    assert "credentials in a URL are refused" in text
    assert password not in text


def test_password_column_is_refused_naming_each_line(tmp_path: Path) -> None:
    found = problems_for(tmp_path, "id,name,area_id,host,password\nc1,n,A1,127.0.0.1,hunter2\nc2,n,A1,127.0.0.2,\n")
    assert found == [f"{tmp_path / 'cameras.csv'}:2: {REFUSED}"]
    empty = problems_for(tmp_path, "id,name,area_id,host,password\nc2,n,A1,127.0.0.2,\n")
    assert empty == [f"{tmp_path / 'cameras.csv'}:1: {REFUSED}"]


def test_gb28181_ids(tmp_path: Path) -> None:
    rows = [
        "15020300001320000001,ok via ancestor county,A1,127.0.0.1,,,,",
        "15020000001320000002,ok via the city,A1,127.0.0.2,,,,",
        "15020200001320000003,other county,A1,127.0.0.3,,,,",
        "15020300002000000004,type 200 is a platform,A1,127.0.0.4,,,,",
        "99020300001320000005,no province 99,A1,127.0.0.5,,,,",
        "1502030000132000006,19 digits: a free id,A1,127.0.0.6,,,,",
    ]
    found = problems_for(tmp_path, CAM_HEADER + "\n".join(rows) + "\n")
    path = tmp_path / "cameras.csv"
    assert found == [
        f"{path}:4: id: GB/T 28181 id 15020200001320000003: administrative code 150202 does not match the area's "
        "district or its ancestors (allowed: 150200, 150203)",
        f"{path}:5: id: GB/T 28181 id 15020300002000000004: type code 200 is not a front-end device "
        "(allowed: 111–199, e.g. 131 camera, 132 network camera)",
        f"{path}:6: id: GB/T 28181 id 99020300001320000005: 99 is not a province code (allowed: GB/T 2260 codes 11–82)",
    ]


def test_area_rules(tmp_path: Path) -> None:
    areas = write(
        tmp_path,
        "areas.csv",
        "id,name,district,scope,sector,kind,required_cameras,lat\n"
        "A1,甲,150203,sector,,bank,0,\n"
        "A2,乙,150299,public,,square,1,\n"
        "A3,丙,150203,everywhere,,square,x,95\n",
    )
    with pytest.raises(InputError) as err:
        read_inventory([write(tmp_path, "districts.csv", DISTRICTS), areas])
    assert err.value.problems == [
        f"{areas}:2: required_cameras: 0 is out of range (allowed: 1–10000)",
        f"{areas}:2: sector: required when scope is sector (allowed: finance, transport, education, healthcare, …)",
        f"{areas}:4: scope: 'everywhere' is not allowed (allowed: public, sector)",
        f"{areas}:4: required_cameras: 'x' is not an integer (allowed: 1–10000)",
        f"{areas}:4: lat: 95 is out of range (allowed: -90.0–90.0)",
        f"{areas}:3: district: unknown district '150299'",
    ]


def test_district_rules(tmp_path: Path) -> None:
    districts = write(
        tmp_path,
        "districts.csv",
        "code,name,level,parent\n15020,短,district,\nG1,网格一,grid,G2\nG2,网格二,grid,G1\nG3,网格三,grid,G9\n",
    )
    with pytest.raises(InputError) as err:
        read_inventory([districts])
    assert err.value.problems == [
        f"{districts}:2: code: '15020' is not a GB/T 2260 code (allowed: 6 digits for a district)",
        f"{districts}:3: parent: district 'G1' is its own ancestor (a cycle)",
        f"{districts}:4: parent: district 'G2' is its own ancestor (a cycle)",
        f"{districts}:5: parent: unknown district 'G9'",
    ]


def test_yaml_registry_with_lines(tmp_path: Path) -> None:
    doc = write(
        tmp_path,
        "registry.yml",
        "districts:\n"
        "  - {code: '150200', name: 包头市, level: city}\n"
        "areas:\n"
        "  - id: A1\n"
        "    name: 广场\n"
        "    district: '150200'\n"
        "    scope: public\n"
        "    kind: square\n"
        "cameras:\n"
        "  - id: c1\n"
        "    name: 东门\n"
        "    area_id: A1\n"
        "    host: 127.0.0.1\n"
        "    tags: [高点, 夜视]\n"
        "    in_service: false\n"
        "  - id: c2\n"
        "    name: 西门\n"
        "    area_id: A1\n"
        "    host: 127.0.0.2\n"
        "    password: hunter2\n"
        "    colour: red\n",
    )
    with pytest.raises(InputError) as err:
        read_inventory([doc])
    assert err.value.problems == [
        f"{doc}:20: password: a plaintext password is refused (allowed: password_env or password_file)",
        f"{doc}:21: colour: unknown key (allowed: id, name, area_id, host, rtsp_url, onvif_url, snapshot_url, "
        "username, password_env, password_file, auth, point_class, in_service, expected_resolution, tags)",
    ]
    fixed = write(tmp_path, "registry.yml", doc.read_text(encoding="utf-8").rsplit("    password:", 1)[0])
    inv = read_inventory([fixed])
    assert inv.cameras[0].tags == ("高点", "夜视") and inv.cameras[0].in_service is False


def test_csv_syntax_and_encoding_errors(tmp_path: Path) -> None:
    quoted = write(tmp_path, "areas.csv", 'id,name,district,scope,kind\nA1,"unterminated,150200,public,square\n')
    with pytest.raises(InputError, match=r"areas.csv:\d+: \(file\): CSV:"):
        read_inventory([quoted])
    latin = tmp_path / "cameras.csv"
    latin.write_bytes("id,name,area_id,host\nc1,caf\xe9,A1,h\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"cameras.csv:2: \(file\): not valid UTF-8"):
        read_inventory([latin])


def test_csv_export_round_trips(tmp_path: Path) -> None:
    cams = write(tmp_path, "cameras.csv", CAM_HEADER + 'c1,"东门, ""北""",A1,127.0.0.1,,,,\n')
    inv = read_inventory([*base(tmp_path), cams])
    (tmp_path / "x").mkdir()
    again = read_inventory(
        [write(tmp_path / "x", f"{k}.csv", to_csv(inv, k)) for k in ("districts", "areas", "cameras")]
    )
    assert again == inv
