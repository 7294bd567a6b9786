"""shop.settings_test with the email backend taken from the environment, for the gunicorn nodes and Celery
workers of a test that counts emails across processes (shop.settings_test keeps every email in the memory of
the process that sent it: locmem, whatever EMAIL_BACKEND says)."""

import os

from shop.settings_test import *  # noqa: F401,F403
from shop.settings_test import EMAIL_BACKEND

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", EMAIL_BACKEND)
if os.environ.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
