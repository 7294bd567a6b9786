"""oscarapi's login, throttled by django-axes like every other login (found through OSCARAPI_OVERRIDE_MODULES).

oscarapi's LoginSerializer calls ``authenticate()`` without the request; our axes backend lets such calls
through (Oscar's registration needs that, shop/throttling.py), so failures at /api/login/ were never counted:
unlimited password guessing. Here the serializer authenticates with the request, so axes counts each
failure and answers 429 once the limit is reached, as on the customer and dashboard logins.
"""

import functools

from django.contrib.auth import authenticate
from oscarapi.serializers.login import LoginSerializer as OscarApiLoginSerializer
from oscarapi.views.login import LoginView as OscarApiLoginView
from oscarapi.views.login import RegistrationView, UserDetail  # noqa: F401 — oscarapi loads all three from here
from rest_framework import serializers


class LoginSerializer(OscarApiLoginSerializer):
    def validate(self, attrs):
        request = self.context["request"]
        user = authenticate(getattr(request, "_request", request), username=attrs["username"],
                            password=attrs["password"])
        if user is None:
            raise serializers.ValidationError("invalid login")
        if not user.is_active:
            raise serializers.ValidationError("Can not log in as inactive user")
        self.instance = user
        return attrs


class LoginView(OscarApiLoginView):
    serializer_class = LoginSerializer

    def post(self, request, *args, **kwargs):
        # oscarapi builds the serializer without a context; give it the request it authenticates with.
        self.serializer_class = functools.partial(LoginSerializer, context={"request": request})
        return super().post(request, *args, **kwargs)
