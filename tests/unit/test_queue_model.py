"""The benchmark's queueing model agrees with the closed forms it can be checked against."""

from __future__ import annotations

import math

import pytest

from benchmarks.queue_model import simulate


def test_one_worker_with_exponential_jobs_waits_as_mm1() -> None:
    tail = simulate(50.0, 0.010, 1.0, workers=1)  # M/M/1, rho 0.5: mean wait rho / (mu - lambda)
    assert tail.mean_wait_s == pytest.approx(0.5 / 50, rel=0.05)
    # the time in the system is exponential with rate mu - lambda
    assert tail.share_over == pytest.approx(math.exp(-50 * 0.100), rel=0.15)


def test_one_worker_with_general_jobs_waits_as_pollaczek_khinchine() -> None:
    rate, job, cv = 50.0, 0.010, 0.5
    expected = rate * job**2 * (1 + cv**2) / (2 * (1 - rate * job))
    assert simulate(rate, job, cv, workers=1).mean_wait_s == pytest.approx(expected, rel=0.05)


def test_two_workers_with_exponential_jobs_wait_as_erlang_c() -> None:
    rate, mu, c = 150.0, 100.0, 2
    a = rate / mu
    top = a**c / math.factorial(c) / (1 - a / c)
    waiting = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    assert simulate(rate, 1 / mu, 1.0, workers=c).mean_wait_s == pytest.approx(waiting / (c * mu - rate), rel=0.05)


def test_a_shorter_job_or_a_lower_rate_shortens_the_tail() -> None:
    base = simulate(100.0, 0.017, 0.27)
    assert simulate(100.0, 0.014, 0.27).over_per_run < base.over_per_run
    assert simulate(80.0, 0.017, 0.27).over_per_run < base.over_per_run


def test_nonsense_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        simulate(0.0, 0.010, 0.5)
