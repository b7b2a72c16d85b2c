"""Run the sandbox server in the foreground (the scale-out setup: SANDBOX_AUTOSTART=false)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand

from codeexec.supervisor import sandbox_command, sandbox_environment


class Command(BaseCommand):
    help = "Run the code sandbox server on SANDBOX_SOCKET, with the limits from the settings."

    def handle(self, *args, **options) -> None:
        command = sandbox_command()
        os.chdir(settings.BASE_DIR)
        # exec, not a child: the server must not inherit this process's environment.
        os.execve(command[0], command, sandbox_environment())
