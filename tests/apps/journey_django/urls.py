import hashlib
import os

from django.http import FileResponse, JsonResponse, StreamingHttpResponse
from django.urls import path


def upload(request):
    out = {"fields": {k: request.POST.getlist(k) for k in request.POST}, "files": {}}
    for field, stored in request.FILES.items():
        data = stored.read()
        out["files"][field] = {"filename": stored.name, "size": len(data),
                               "sha256": hashlib.sha256(data).hexdigest()}
    return JsonResponse(out)


def body(request):
    data = request.body
    return JsonResponse({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})


def stream(request):
    fifo = request.GET["fifo"]

    def lines():
        yield b"first\n"
        with open(fifo, "rb") as fh:
            fh.read(1)
        yield b"second\n"
    return StreamingHttpResponse(lines(), content_type="text/plain")


def download(request, size):
    path = os.path.abspath(f"d{size}.bin")
    if not os.path.exists(path):
        with open(path + ".part", "wb") as fh:
            fh.write(bytes(i % 253 for i in range(size)))
        os.replace(path + ".part", path)
    return FileResponse(open(path, "rb"), content_type="application/octet-stream")


def where(request):
    return JsonResponse({"path": request.path, "path_info": request.path_info,
                         "uri": request.build_absolute_uri(), "remote": request.META.get("REMOTE_ADDR")})


urlpatterns = [path("upload", upload), path("body", body), path("stream", stream),
               path("download/<int:size>", download), path("where", where), path("café", where)]
