"""Node's http client on the prefork loop: ClientRequest, Agent, request(), get()."""

from .abort import AbortController, AbortError, AbortSignal
from .agent import Agent, global_agent
from .request import ClientRequest
from .fields import Information
from .response import ClientResponse
from .urls import get, request

__all__ = ["AbortController", "AbortError", "AbortSignal", "Agent", "ClientRequest", "ClientResponse", "Information",
           "get", "global_agent", "request"]
