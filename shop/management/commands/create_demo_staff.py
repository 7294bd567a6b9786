"""Create (once) the demo staff login of `scripts/run` and print it.

The password is generated on first run and kept in var/demo-staff-login.txt, so the login printed
stays the same across runs. Refuses to run with DEBUG off: a production shop has no demo login.
"""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

EMAIL = "staff@p6.example.org"


class Command(BaseCommand):
    help = "Create the demo staff login (DEBUG only) and print it."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("create_demo_staff is for the demo (DEBUG=1) only; use createsuperuser in production")
        User = get_user_model()
        login_file = Path(settings.VAR_DIR) / "demo-staff-login.txt"
        user = User.objects.filter(email=EMAIL).first()
        if user is None or not login_file.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                user = User.objects.create_user(username="staff", email=EMAIL, password=password)
            else:
                user.set_password(password)
            user.is_staff = True
            user.is_superuser = True
            user.save()
            login_file.parent.mkdir(parents=True, exist_ok=True)
            login_file.write_text(password + "\n")
            login_file.chmod(0o600)
        password = login_file.read_text().strip()
        self.stdout.write(f"demo staff login: {EMAIL} / {password}")
