from __future__ import annotations

from sharpeyes.probers.backoff import AuthBackoff, credential_key
from sharpeyes.probers.base import ProbeResult, ProbeTarget, Reason, ResultBuilder
from sharpeyes.redact import Secret


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def target(password: str = "pw1", user: str = "admin") -> ProbeTarget:  # noqa: S107
    return ProbeTarget(camera_id="cam1", host="127.0.0.1", username=user, password=Secret(password))


def result(t: ProbeTarget, reason: Reason) -> ProbeResult:
    return ResultBuilder(t, "rtsp_describe").finish(reason)


def test_backs_off_after_threshold_exponentially_and_capped() -> None:
    clock = FakeClock()
    b = AuthBackoff(threshold=2, base_s=60, cap_s=200, clock=clock)
    t = target()
    b.record(t, result(t, Reason.AUTH))
    assert b.remaining(t) == 0  # one failure is tolerated
    b.record(t, result(t, Reason.AUTH))
    assert b.remaining(t) == 60
    b.record(t, result(t, Reason.AUTH))
    assert b.remaining(t) == 120
    b.record(t, result(t, Reason.AUTH))
    assert b.remaining(t) == 200  # capped
    clock.now += 199
    assert b.remaining(t) == 1
    clock.now += 2
    assert b.remaining(t) == 0


def test_locked_out_result_is_a_result_not_a_skip() -> None:
    b = AuthBackoff(threshold=1, base_s=30, cap_s=60, clock=FakeClock())
    t = target()
    assert b.locked_out_result(t, "m") is None
    b.record(t, result(t, Reason.AUTH))
    r = b.locked_out_result(t, "m")
    assert r is not None
    assert r.reason is Reason.LOCKED_OUT_BACKOFF
    assert not r.ok
    assert r.observations["backoff_remaining_s"] == 30
    assert "pw1" not in r.detail


def test_new_credentials_clear_the_backoff() -> None:
    b = AuthBackoff(threshold=1, base_s=30, cap_s=60, clock=FakeClock())
    old = target("old")
    b.record(old, result(old, Reason.AUTH))
    assert b.remaining(old) == 30
    assert b.remaining(target("new")) == 0
    assert b.remaining(target("old", user="other")) == 0
    assert len(b) == 0


def test_success_clears_and_other_failures_keep_state() -> None:
    b = AuthBackoff(threshold=2, base_s=30, cap_s=60, clock=FakeClock())
    t = target()
    b.record(t, result(t, Reason.AUTH))
    b.record(t, result(t, Reason.TIMEOUT))
    b.record(t, result(t, Reason.AUTH))
    assert b.remaining(t) == 30  # a timeout between two auth failures does not reset the count
    b.record(t, result(t, Reason.LOCKED_OUT_BACKOFF))
    assert b.remaining(t) == 30
    b.record(t, result(t, Reason.OK))
    assert b.remaining(t) == 0
    assert len(b) == 0


def test_credential_key_never_holds_the_password() -> None:
    t = target("p@ss:w/o#r?d%密码")
    key = credential_key(t)
    assert "p@ss" not in key
    assert key == credential_key(target("p@ss:w/o#r?d%密码"))
    assert key != credential_key(target("p@ss:w/o#r?d%密码", user="admin2"))
    # user/password boundaries cannot collide
    assert credential_key(target("b", user="a")) != credential_key(target("", user="ab"))
