from django.apps import AppConfig


class CodeexecConfig(AppConfig):
    name = "codeexec"
    verbose_name = "Code execution"
