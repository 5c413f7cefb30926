import asyncio
import os

from asgiref.sync import async_to_sync
from django.db import connection
from django.db.backends.signals import connection_created
from django.http import HttpResponse, StreamingHttpResponse

OPENED = []  # the database connections this process opened


def _opened(sender, connection, **kwargs):
    OPENED.append(connection.alias)


connection_created.connect(_opened)


def orm(request):
    with connection.cursor() as cursor:  # the ORM refuses to run where an event loop runs
        cursor.execute("select 6 * 7")
        (value,) = cursor.fetchone()
    return HttpResponse(f"orm {value}")


async def async_view(request):  # under WSGI, Django runs it with async_to_sync
    await asyncio.sleep(0)
    return HttpResponse("async view")


def asyncio_run(request):
    async def compute():
        await asyncio.sleep(0)
        return "asyncio.run"
    return HttpResponse(asyncio.run(compute()))


def sync_bridge(request):
    async def compute():
        await asyncio.sleep(0)
        return "async_to_sync"
    return HttpResponse(async_to_sync(compute)())


def async_stream(request):  # an async iterator, which Django consumes with async_to_sync under WSGI
    async def lines():
        for i in range(3):
            await asyncio.sleep(0)
            yield f"line {i}\n"
    return StreamingHttpResponse(lines(), content_type="text/plain")


def db_connections(request):
    """How many database connections the process has opened: with CONN_MAX_AGE, a
    server thread keeps its one connection from request to request."""
    connection.ensure_connection()
    return HttpResponse(str(len(OPENED)))


def cookies(request):  # Django gives each Set-Cookie value with a leading space under WSGI
    response = HttpResponse("cookies")
    response.set_cookie("theme", "dark")
    response.set_cookie("token", "abc", httponly=True, samesite="Lax")
    return response


def big_file(request):  # FileResponse: wsgi.file_wrapper, the file named by the test's environment
    from django.http import FileResponse
    return FileResponse(open(os.environ["PREFORK_TEST_BIG_FILE"], "rb"))
