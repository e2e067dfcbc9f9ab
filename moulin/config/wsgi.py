import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moulin.config.settings")
application = get_wsgi_application()

# Load the "similar feedback" indexes in the background at start (moulin/triage/vector_store.py).
if os.environ.get("MOULIN_PRELOAD_SIMILAR", "1") != "0":
    from moulin.triage.vector_store import warm_in_background

    warm_in_background()
