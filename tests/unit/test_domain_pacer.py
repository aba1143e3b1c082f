import itertools

from campaign_engine.domain.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def call_times(rate: float, entries: list[int]) -> list[float]:
    clock = FakeClock()
    pacer = Pacer(rate, clock=clock, sleep=clock.sleep)
    times = []
    for count in entries:
        pacer.before_call(count)
        times.append(clock.now)
    pacer.finish()
    return times


def test_calls_are_at_least_a_second_apart_and_never_exceed_the_rate():
    for rate in (0.8, 1, 7.5, 20, 40.5, 50, 200):
        pacer = Pacer(rate)
        size = pacer.call_size(50)
        assert 1 <= size <= max(1, min(50, rate))
        times = call_times(rate, [size] * 6)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= 1.0 - 1e-9 for gap in gaps)
        # recipients in any one-second window starting at a call
        for start in times:
            in_window = sum(size for t in times if start <= t < start + 1)
            assert in_window <= max(size, rate)


def test_a_slow_rate_spreads_single_entries():
    times = call_times(0.5, [1, 1, 1])
    assert times == [0.0, 2.0, 4.0]


def test_finish_waits_out_the_last_interval():
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    pacer.before_call(10)
    pacer.finish()
    assert clock.now == 1.0


def test_a_slow_step_between_the_wait_and_the_call_never_squeezes_two_calls_into_one_second():
    """SendBatch writes the batch record between its turn and its call: however long that write
    takes, calls start at least an interval apart (booked from when each really starts)."""
    clock = FakeClock()
    pacer = Pacer(50, clock=clock, sleep=clock.sleep)
    starts = []
    for write_seconds in (0.7, 0.0, 0.4, 0.0, 0.9, 0.1):
        pacer.wait_turn()
        clock.now += write_seconds  # the in-flight write
        pacer.call_starts(50)
        starts.append(clock.now)
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(starts))
