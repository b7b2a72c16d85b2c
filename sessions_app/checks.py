"""System checks: a misconfigured default model is reported, not a crash at import."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

from sessions_app.catalogue import model_lookup, provider_ready


@register()
def default_model_check(app_configs, **kwargs):
    if not settings.MODEL_PROVIDER and not settings.MODEL_NAME:
        return []
    entry = model_lookup(provider=settings.MODEL_PROVIDER, model=settings.MODEL_NAME)
    if entry is None:
        return [
            Warning(
                f"MODEL_PROVIDER={settings.MODEL_PROVIDER!r} MODEL_NAME={settings.MODEL_NAME!r} is not in the "
                "model catalogue; new sessions use the offline engine.",
                id="sessions_app.W001",
            )
        ]
    if not provider_ready(entry.provider):
        return [
            Warning(
                f"Provider {entry.provider!r} has no API key or base URL; new sessions use the offline engine.",
                id="sessions_app.W002",
            )
        ]
    return []
