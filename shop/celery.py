"""The Celery application (DESIGN "Background work"): `celery -A shop worker` and `celery -A shop beat`.

Configured from Django's settings (the CELERY_* names); tasks live in each app's `tasks.py`. Work is sent
through `shop.jobs.queue.enqueue`, never with `.delay()` directly: it enqueues on commit, and runs the
work inline when no broker is configured (the demo default), so a fresh machine needs nothing more.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
