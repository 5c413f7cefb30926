SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "apps.frameworks_django.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
# persistent connections (CONN_MAX_AGE): one per thread of the server, kept between requests
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "CONN_MAX_AGE": 600}}
USE_TZ = True
LOGGING_CONFIG = None
