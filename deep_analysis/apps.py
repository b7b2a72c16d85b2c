from django.apps import AppConfig


class DeepAnalysisConfig(AppConfig):
    name = "deep_analysis"
    verbose_name = "Deep analysis"
