"""A small Django 5 project served unchanged by prefork and by gunicorn/uvicorn in the
framework tests: the ORM on sqlite, async views and async streams under WSGI."""
