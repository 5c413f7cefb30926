"""An option the client does not take (an Agent's, a request's) is refused with
ERR_INVALID_ARG_VALUE, and one spelled as Node spells it is told prefork's name (with
the unit, where Node's milliseconds are prefork's seconds), never a bare TypeError."""

import pytest

import prefork
from prefork.client import Agent


@pytest.mark.parametrize("options", [{"keep_alive_msecs": 1000}, {"keepAliveMsecs": 1000}])
def test_an_agent_given_nodes_keep_alive_msecs_is_told_keep_alive_initial_delay_in_seconds(options):
    with pytest.raises(TypeError, match=r"keep_alive_initial_delay.*seconds") as caught:
        Agent(options)
    assert caught.value.code == "ERR_INVALID_ARG_VALUE"
    with pytest.raises(TypeError, match=r"keep_alive_initial_delay.*seconds") as caught:
        Agent(**options)
    assert caught.value.code == "ERR_INVALID_ARG_VALUE"


@pytest.mark.parametrize("name,ours", [("maxSockets", "max_sockets"), ("keepAlive", "keep_alive"),
                                       ("maxTotalSockets", "max_total_sockets")])
def test_an_agent_given_a_camel_case_option_is_told_its_snake_case_name(name, ours):
    with pytest.raises(TypeError, match=repr(ours)) as caught:
        Agent({name: 4})
    assert caught.value.code == "ERR_INVALID_ARG_VALUE"


def test_an_agent_given_an_unknown_option_is_told_the_options_it_takes():
    with pytest.raises(TypeError, match=r"unknown option 'bogus'.*max_sockets") as caught:
        Agent({"bogus": 1, "max_sockets": 2})
    assert caught.value.code == "ERR_INVALID_ARG_VALUE"
    with pytest.raises(TypeError, match=r"unknown option 'bogus'") as caught:
        Agent(bogus=1)
    assert caught.value.code == "ERR_INVALID_ARG_VALUE"
    agent = Agent({"max_sockets": 2, "timeout": 3})  # prefork's names are taken as before
    assert (agent.max_sockets, agent.timeout) == (2, 3)


def test_a_request_given_a_node_spelled_option_is_told_prefork_name():
    with pytest.raises(TypeError, match=r"'socket_path'") as caught:
        prefork.request({"host": "127.0.0.1", "socketPath": "/nope"})
    assert caught.value.code == "ERR_INVALID_ARG_VALUE"
    with pytest.raises(TypeError, match=r"'auto_select_family_attempt_timeout'.*seconds"):
        prefork.request("http://127.0.0.1/", autoSelectFamilyAttemptTimeout=100)
    with pytest.raises(TypeError, match=r"not supported by prefork's client"):
        prefork.request("http://127.0.0.1/", insecureHTTPParser=True)


def test_a_request_given_an_agents_node_option_is_not_told_an_agent_option():
    with pytest.raises(TypeError, match=r"unknown option 'keepAliveMsecs' of request\(\)") as caught:
        prefork.request("http://127.0.0.1/", keepAliveMsecs=1000)
    assert caught.value.code == "ERR_INVALID_ARG_VALUE"
