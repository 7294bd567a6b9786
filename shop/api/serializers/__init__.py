"""Serializers of the API: ours for /api/p6/ in p6.py.

A module here named like one of oscarapi's (login.py for oscarapi.serializers.login) would replace its classes
(OSCARAPI_OVERRIDE_MODULES), as shop/api/views/ does for its views.
"""
