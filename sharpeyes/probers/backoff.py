"""Lockout safety: after repeated ``auth`` failures on a camera, stop trying until its credentials change.

Cameras lock an IP out (often for ~30 minutes) after a few failed logins, which would blind monitoring of
every camera behind the same account. :class:`AuthBackoff` counts consecutive ``auth`` results per camera
and, from ``threshold`` on, backs off exponentially (``base_s`` doubling up to ``cap_s``). While backed off a
probe is answered with ``Reason.LOCKED_OUT_BACKOFF`` without touching the camera. A success, or new
credentials, clears the state. Credentials are keyed by a keyed hash (HMAC with a per-process random key) of
user name and password: the password itself is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from sharpeyes.probers.base import ProbeResult, ProbeTarget, Reason, ResultBuilder

_PROCESS_KEY = os.urandom(32)


def credential_key(target: ProbeTarget) -> str:
    """An opaque, per-process fingerprint of the target's user name and password."""
    user = (target.username or "").encode("utf-8")
    password = target.password.reveal().encode("utf-8") if target.password else b""
    message = len(user).to_bytes(4, "big") + user + password
    return hmac.new(_PROCESS_KEY, message, hashlib.sha256).hexdigest()[:32]


@dataclass(slots=True)
class _State:
    key: str
    failures: int
    until: float


class AuthBackoff:
    """Per-camera exponential, capped backoff after repeated authentication failures."""

    def __init__(
        self,
        *,
        threshold: int = 2,
        base_s: float = 60.0,
        cap_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or base_s <= 0 or cap_s < base_s:
            raise ValueError("need threshold >= 1 and 0 < base_s <= cap_s")
        self.threshold = threshold
        self.base_s = base_s
        self.cap_s = cap_s
        self._clock = clock
        self._states: dict[str, _State] = {}

    def remaining(self, target: ProbeTarget) -> float:
        """Seconds this camera stays backed off (0 when it may be probed)."""
        state = self._states.get(target.camera_id)
        if state is None:
            return 0.0
        if state.key != credential_key(target):
            del self._states[target.camera_id]
            return 0.0
        return max(0.0, state.until - self._clock())

    def record(self, target: ProbeTarget, result: ProbeResult) -> None:
        """Update the camera's state from a probe result that actually contacted the camera."""
        if result.reason is Reason.LOCKED_OUT_BACKOFF:
            return
        if result.reason is not Reason.AUTH:
            if result.ok:
                self._states.pop(target.camera_id, None)
            return
        key = credential_key(target)
        state = self._states.get(target.camera_id)
        if state is None or state.key != key:
            state = self._states[target.camera_id] = _State(key, 0, 0.0)
        state.failures += 1
        if state.failures >= self.threshold:
            exponent = min(state.failures - self.threshold, 30)
            state.until = self._clock() + min(self.cap_s, self.base_s * 2**exponent)

    def locked_out_result(self, target: ProbeTarget, module: str) -> ProbeResult | None:
        """A ``locked_out_backoff`` result if the camera is backed off, else ``None``."""
        wait = self.remaining(target)
        if wait <= 0:
            return None
        builder = ResultBuilder(target, module)
        builder.observe("backoff_remaining_s", round(wait, 3))
        return builder.finish(
            Reason.LOCKED_OUT_BACKOFF,
            f"not probed: repeated authentication failures; retry in {wait:.0f} s or when credentials change",
        )

    def __len__(self) -> int:
        return len(self._states)


DEFAULT_BACKOFF = AuthBackoff()
"""The process-wide tracker the probers consult; the daemon may replace it with a configured one."""
