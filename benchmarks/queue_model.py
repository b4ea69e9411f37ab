"""A queueing model of the frame benchmark's verdict tail: keyframes arriving at random to a few decode workers.

With independent cameras (``frame_health --random-phases``) keyframes reach the worker pool like a Poisson
stream, and each waits for a free worker, then takes one job's time. This simulates that (first come, first
served, ``--workers`` servers, job times gamma-distributed with the given mean and coefficient of variation) and
prints how long verdicts take after their keyframe, so a benchmark run's tail can be compared with what queueing
alone predicts for its measured rate and job time, and so the job time a target needs can be read off.

    .venv/bin/python -m benchmarks.queue_model --rate 100 --job-ms 17.2 --cv 0.27
    .venv/bin/python -m benchmarks.queue_model --grid
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import random
from dataclasses import dataclass

BOUND_S = 0.100  # the target: every verdict within 100 ms of its keyframe
PER_RUN = 1200  # verdicts in one default benchmark run


@dataclass(frozen=True, slots=True)
class Tail:
    """Verdict time after the keyframe (wait for a worker + the job), in seconds, and the share over the bound."""

    mean_wait_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    share_over: float

    @property
    def over_per_run(self) -> float:
        """Expected verdicts over the bound in one run of ``PER_RUN`` verdicts."""
        return self.share_over * PER_RUN


def simulate(rate: float, job_s: float, cv: float, *, workers: int = 2, jobs: int = 200_000, seed: int = 1) -> Tail:
    """``jobs`` Poisson arrivals at ``rate`` per second to ``workers`` FIFO servers with gamma job times."""
    if rate <= 0 or job_s <= 0 or cv <= 0 or workers < 1 or jobs < 100:
        raise ValueError("rate, job time and cv must be positive, workers ≥ 1 and jobs ≥ 100")
    rng = random.Random(seed)
    shape = 1 / cv**2
    free_at = [0.0] * workers
    now = total_wait = 0.0
    lags: list[float] = []
    for _ in range(jobs):
        now += rng.expovariate(rate)
        start = max(now, heapq.heappop(free_at))
        job = rng.gammavariate(shape, job_s / shape)
        heapq.heappush(free_at, start + job)
        total_wait += start - now
        lags.append(start - now + job)
    lags.sort()

    def at(q: float) -> float:
        return lags[min(len(lags) - 1, int(q * len(lags)))]

    over = len(lags) - bisect.bisect_right(lags, BOUND_S)  # lags are sorted
    return Tail(total_wait / jobs, at(0.50), at(0.95), at(0.99), over / jobs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=100.0, help="keyframes per second (the run's steady rate)")
    ap.add_argument("--job-ms", type=float, default=15.5, help="mean job time as the prober sees it")
    ap.add_argument("--cv", type=float, default=0.27, help="job time's standard deviation over its mean")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--grid", action="store_true", help="a table of rates × job times instead of one case")
    args = ap.parse_args()
    if not args.grid:
        tail = simulate(args.rate, args.job_ms / 1000, args.cv, workers=args.workers)
        print(
            f"{args.rate:g} keyframes/s, job {args.job_ms:g} ms (cv {args.cv:g}), {args.workers} workers: verdict - "
            f"keyframe p50 / p95 / p99 {1000 * tail.p50_s:.0f} / {1000 * tail.p95_s:.0f} / {1000 * tail.p99_s:.0f} ms; "
            f"{tail.over_per_run:.2f} of {PER_RUN} over {1000 * BOUND_S:.0f} ms expected"
        )
        return
    rates = (70, 80, 90, 100, 110)
    print(f"expected verdicts over {1000 * BOUND_S:.0f} ms per {PER_RUN} ({args.workers} workers, cv {args.cv:g})")
    print("job ms | " + " | ".join(f"{r}/s" for r in rates))
    for job_ms in (12.0, 14.0, 15.5, 17.0):
        cells = (simulate(r, job_ms / 1000, args.cv, workers=args.workers).over_per_run for r in rates)
        print(f"{job_ms:g} | " + " | ".join(f"{c:.2f}" for c in cells))


if __name__ == "__main__":
    main()
