"""Delete idle analysis sessions and the dataset files nothing references any more."""

from django.core.management.base import BaseCommand

from sessions_app.services import sessions_cleanup


class Command(BaseCommand):
    help = "Delete sessions idle longer than SESSION_IDLE_HOURS and unreferenced dataset files."

    def handle(self, *args, **options) -> None:
        expired, removed = sessions_cleanup()
        self.stdout.write(f"deleted {expired} expired sessions and {removed} unreferenced dataset files")
