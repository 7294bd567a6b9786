from oscar.apps.offer.models import *  # noqa: F401,F403

# Registers our benefit proxies with the app (Benefit.proxy_map finds them through get_class).
from shop.offer import benefits  # noqa: E402,F401
