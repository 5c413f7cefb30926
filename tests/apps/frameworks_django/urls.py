from django.urls import path

from . import views

urlpatterns = [
    path("orm", views.orm),
    path("async-view", views.async_view),
    path("asyncio-run", views.asyncio_run),
    path("async-to-sync", views.sync_bridge),
    path("async-stream", views.async_stream),
    path("db-connections", views.db_connections),
    path("cookies", views.cookies),
    path("big-file", views.big_file),
]
