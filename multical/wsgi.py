import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "multical.settings")

application = get_wsgi_application()

# Import the URLconf, and with it every view, while the worker boots: otherwise the first request
# each worker serves waits for those imports (most of a second), and so do requests queued behind it.
import_module(settings.ROOT_URLCONF)
