"""The ceiling (issue 15): our settings and URLs plus one minimal view, for the benchmarks only.

`/bench/ceiling/` answers a page kept in the cache, through the same middleware, gunicorn config and cache
as every page of the shop: no page of ours can be faster, so each page's distance from it is what the page's
own work costs. Never part of the shop's URLs: gunicorn serves it with DJANGO_SETTINGS_MODULE=ceiling.settings
and bench/ on PYTHONPATH (bench/storefront.py).
"""
