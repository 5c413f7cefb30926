"""An interface said outright (``--interface wsgi``) for an object whose signature says
it cannot be called so: an app factory named without its call (Django's
``get_wsgi_application``, Flask's ``create_app``), a class whose instances are the app,
a function that needs a keyword argument. The worker refuses it at boot in one line
naming the fix, where it used to boot and answer every request 500 with a TypeError;
what can be called so is still trusted."""

import functools

import pytest

from test_app_loading import boot_failure, prefork_m, write

from prefork import apps, recognise

DJANGOISH = """
    def get_wsgi_application():  # as django.core.wsgi's: a factory, called with no arguments
        def application(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"app": "made"}']
        return application
"""


def test_a_factory_said_to_be_wsgi_is_refused_at_boot_naming_the_call(runs, tmp_path):
    project = write(tmp_path / "site", {"site_wsgi.py": DJANGOISH})
    log = boot_failure(runs(prefork_m("site_wsgi:get_wsgi_application", "--interface", "wsgi"), cwd=project))
    assert "worker 0: site_wsgi:get_wsgi_application is a function get_wsgi_application(), which cannot be " \
           "called with the 2 arguments a WSGI application takes: if it makes the app, write APP as " \
           "'site_wsgi:get_wsgi_application()' to have the worker call it and serve what it returns\n" in log, log
    assert "Traceback" not in log and "TypeError" not in log, log
    run = runs(prefork_m("site_wsgi:get_wsgi_application()", "--interface", "wsgi"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "made"}


def create_app(test_config=None):
    return None


class MadeWithNoArguments:
    pass


def needs_a_keyword(environ, start_response, *, settings):
    return []


def three(environ, start_response, extra):
    return []


@pytest.mark.parametrize("obj, interface, tail", [
    (create_app, "wsgi", "is a function create_app(test_config), which cannot be called with the 2 arguments "
                         "a WSGI application takes: if it makes the app, write APP as 'm:x()' to have the "
                         "worker call it and serve what it returns"),
    (create_app, "asgi", "which cannot be called with the 3 arguments an ASGI application takes: if it makes "
                         "the app, write APP as 'm:x()'"),
    (MadeWithNoArguments, "wsgi", "is a class MadeWithNoArguments(), which cannot be called with the 2 "
                                  "arguments a WSGI application takes: if it makes the app, write APP as 'm:x()'"),
    (needs_a_keyword, "wsgi", "is a function needs_a_keyword(environ, start_response, *, settings), which "
                              "needs a keyword argument"),
    (three, "wsgi", "is a function three(environ, start_response, extra), which cannot be called with the 2 "
                    "arguments a WSGI application takes"),
    (lambda: None, "events", "which cannot be called with the 1 argument an events setup(server) takes: if it "
                             "makes the app, write APP as 'm:x()'"),
])
def test_an_object_said_to_be_of_an_interface_it_cannot_be_called_as_is_refused(obj, interface, tail):
    with pytest.raises(apps.AppError) as info:
        recognise.resolve("m:x", obj, interface)
    message = str(info.value)
    assert "\n" not in message and message.startswith("m:x is ") and tail in message, message


def untyped(*args, **kwargs):
    return []


def optional(environ=None, start_response=None, extra=None):
    return []


@pytest.mark.parametrize("obj, interface", [
    (untyped, "wsgi"), (untyped, "asgi"), (untyped, "events"), (optional, "wsgi"),
    (functools.partial(three, extra=1), "wsgi"), (print, "wsgi"),
])
def test_an_object_that_can_be_called_as_the_interface_said_is_trusted(obj, interface):
    assert recognise.resolve("m:x", obj, interface) == (interface, obj)
