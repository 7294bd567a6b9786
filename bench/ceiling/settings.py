"""The shop's settings with the ceiling's URLconf (bench only)."""

from shop.settings import *  # noqa: F401,F403

ROOT_URLCONF = "ceiling.urls"
