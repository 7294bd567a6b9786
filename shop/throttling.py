"""Login throttling helpers for django-axes (settings AXES_*).

Oscar's customer login form is prefixed (``login-username``) and takes an email; the dashboard and
admin forms take ``username``; after a successful login axes resets the count of ``user.username``.
All three must name the same account, or a success would not reset the count and a lockout could be
dodged by signing in through another form: an email that belongs to exactly one account is turned
into that account's user name. Names are compared case-insensitively, so changing case does not buy
more attempts.
"""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model


def login_username(request, credentials=None):
    value = (credentials or {}).get("username")
    if not value and request is not None:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        if hasattr(data, "get"):  # an API body may be a JSON list or string: no user name in it
            value = data.get("username") or data.get("login-username")
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()[:254]
    if "@" in value:
        User = get_user_model()
        matches = list(User._default_manager.filter(email__iexact=value)
                       .values_list(User.USERNAME_FIELD, flat=True)[:2])
        if len(matches) == 1:
            value = matches[0]
    return value.lower()


class AxesBackend(AxesStandaloneBackend):
    """axes' backend, except that a call without a request is let through to the next backend.

    Oscar's registration view authenticates the account it has just created with
    ``authenticate(username=..., password=...)`` and no request; axes' own backend raises on that, so
    registering would answer 500. Without a request there is nothing to throttle by (no address) and
    no attacker either: the password was set in the same request.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
