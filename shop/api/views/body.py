"""A JSON body that is not an object (a list, a string, a number), refused as DRF's serializers refuse it.

Some of oscarapi's views read ``request.data.get(...)`` before any serializer has looked at the body, so
``[1]`` or ``"x"`` would raise AttributeError there (500); these views check first and answer 400.
"""

from rest_framework import serializers
from rest_framework.settings import api_settings


class ObjectBodyMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH") and not isinstance(request.data, dict):
            message = serializers.Serializer.default_error_messages["invalid"].format(
                datatype=type(request.data).__name__)
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]}, code="invalid")
