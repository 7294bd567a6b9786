"""``{% script "path" %}``: a local script tag with its Subresource Integrity hash.

The hash (SHA-384, what browsers check the fetched file against) is computed from the file the staticfiles
finders find, the file ``collectstatic`` copies unchanged: a static file altered on the server or on its way to the
browser no longer matches and is not run (PCI DSS 4.0.1 requirement 6.4.3's "integrity of each script").
"""

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

from django import template
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()


@lru_cache(maxsize=256)
def _integrity(found, mtime_ns):
    digest = hashlib.sha384(Path(found).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def integrity(path):
    """``sha384-…`` of the static file ``path``; ValueError when no such static file exists."""
    found = finders.find(path)
    if not found:
        raise ValueError(f"no static file {path!r} to hash")
    return _integrity(found, Path(found).stat().st_mtime_ns)


@register.simple_tag
def script(path):
    return format_html('<script src="{}" integrity="{}"></script>', static(path), integrity(path))
