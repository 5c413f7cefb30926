"""The histogram's ``_sum`` is a counter to Prometheus: it must never go down. The
master adds the workers' sums, those of workers gone folded into one total; a worker's
exit changed the order of the float additions, and one exit in about ten gave a total
one rounding step lower (866.9673513858751 -> 866.967351385875): a counter reset, a
spike in ``rate()``. The sum is now kept in whole nanoseconds, exact in any order.
"""

import random

from prefork.metrics import Aggregator


def test_a_workers_exit_never_lowers_the_duration_sum():
    rng = random.Random(7)
    for _ in range(5000):
        aggregator = Aggregator()
        aggregator.fold({"duration_sum": rng.uniform(0, 500)})  # workers gone earlier
        live = [{"duration_sum": rng.uniform(0, 500)} for _ in range(4)]
        before = aggregator.totals(live)["duration_sum"]
        aggregator.fold(live.pop(rng.randrange(len(live))))  # this one exits, nothing else moves
        after = aggregator.totals(live)["duration_sum"]
        assert after >= before, (before, after)
        assert abs(after - before) < 1e-6


def test_the_sum_is_still_the_sum():
    aggregator = Aggregator()
    aggregator.fold({"duration_sum": 1.25, "connections_total": 3})
    totals = aggregator.totals([{"duration_sum": 0.5, "connections_total": 1, "connections": 1}])
    assert totals["duration_sum"] == 1.75 and totals["connections_total"] == 4 and totals["connections"] == 1
