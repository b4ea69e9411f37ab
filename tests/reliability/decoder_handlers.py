"""A decode-worker handler for the R4 test: the real frame analysis, except for keyframes that carry a marker NAL
unit (an SEI, as a hostile camera could send), on which it hangs or crashes like a decoder bug would."""

from __future__ import annotations

import os
import signal
import time

from sharpeyes.probers.frame_job import FrameJob, FrameOutcome, analyse

HANG = b"SHARPEYES-R4-HANG"
CRASH = b"SHARPEYES-R4-CRASH"


def analyse_or_misbehave(job: FrameJob) -> FrameOutcome:
    """The worker pool's handler: hang on ``HANG``, die of SIGSEGV on ``CRASH``, else the real analysis."""
    if HANG in job.units[0]:
        time.sleep(3600)
    if CRASH in job.units[0]:
        os.kill(os.getpid(), signal.SIGSEGV)
    return analyse(job)
