"""Node's http client on the prefork loop: ClientRequest, Agent, request(), get()."""

from .agent import Agent, global_agent
from .request import ClientRequest, get, request
from .response import ClientResponse, Information

__all__ = ["Agent", "ClientRequest", "ClientResponse", "Information", "get", "global_agent", "request"]
