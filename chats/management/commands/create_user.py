"""Create a user and print a new API key for it (shown once)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from chats.services import api_key_create, user_create
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Create a user and print an API key for it. The key is shown only once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--staff", action="store_true", help="Allow the Django admin (set a password there).")
        parser.add_argument("--key-name", default="cli")

    def handle(self, *args, **options) -> None:
        try:
            user = user_create(username=options["username"], email=options["email"], is_staff=options["staff"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        _, raw_key = api_key_create(user=user, name=options["key_name"])
        self.stdout.write(f"user_id={user.pk} username={user.username}")
        self.stdout.write(f"api_key={raw_key}")
