from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Usage analytics"

    def ready(self) -> None:
        from analytics import receivers  # noqa: F401  (connects the broadcast receivers)
