from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Analysis sessions and datasets"

    def ready(self) -> None:
        from sessions_app import checks  # noqa: F401  (registers the system checks)
        from sessions_app.agents import receivers  # noqa: F401  (connects the signal receivers)
