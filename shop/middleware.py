"""Request hygiene that Django and Oscar leave to the database.

PostgreSQL text cannot hold a NUL character: a query string carrying one (``?q=%00``) reaches Oscar's
dashboard searches and ours as a filter value and makes the database raise, so the request answers
500. Django's form fields refuse NUL, but views that read ``request.GET`` directly do not. A URL with a
NUL anywhere is refused here with a 400 before any view runs.
"""

from django.http import HttpResponseBadRequest


class RejectNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest("Null characters are not allowed in the address.", content_type="text/plain")
        return self.get_response(request)
