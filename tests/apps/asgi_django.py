"""A minimal Django project in one module, served through Django's ASGI handler."""

import json

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)
django.setup()

from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402


async def async_view(request):
    return JsonResponse({"kind": "async", "path": request.path, "q": request.GET.get("q")})


def sync_view(request):
    return HttpResponse("sync view", content_type="text/plain")


def echo(request):
    return JsonResponse({"method": request.method, "body": json.loads(request.body)})


def boom(request):
    raise RuntimeError("the Django view broke")


urlpatterns = [path("async/", async_view), path("sync/", sync_view), path("echo/", echo), path("boom/", boom)]

application = get_asgi_application()
