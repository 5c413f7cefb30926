"""``Agent(scheduling=...)`` takes Node's two orders only: another word (a typo, a
case Node does not take) raises ERR_INVALID_ARG_VALUE at once, as Node's constructor
throws, instead of silently pooling in another order than the one asked for."""

import pytest

from prefork.client import Agent


@pytest.mark.parametrize("scheduling", ["LIFO", "random", " lifo"])
def test_an_unknown_scheduling_is_refused_as_node_refuses_it(scheduling):
    with pytest.raises(ValueError) as info:
        Agent(keep_alive=True, scheduling=scheduling)
    assert info.value.code == "ERR_INVALID_ARG_VALUE"
    assert "'fifo', 'lifo'" in str(info.value)


@pytest.mark.parametrize("scheduling", ["lifo", "fifo"])
def test_nodes_orders_are_taken(scheduling):
    assert Agent(scheduling=scheduling).scheduling == scheduling


@pytest.mark.parametrize("scheduling", [None, ""])
def test_no_scheduling_is_lifo_as_in_node(scheduling):
    assert Agent(scheduling=scheduling).scheduling == "lifo"
