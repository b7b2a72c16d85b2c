"""Hermetic, fast settings for the test suite: temporary storage, no network, offline LM."""

import os
import tempfile
from pathlib import Path

# Before the base settings import: they create DATA_DIR (secret key, SQLite, static).
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="analyst-test-data-")
os.environ.pop("MEDIA_ROOT", None)

from config.settings import *  # noqa: F403

MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="analyst-test-media-"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MODEL_PROVIDER = ""
MODEL_NAME = ""
PROVIDER_API_KEYS = {name: "" for name in PROVIDER_API_KEYS}  # noqa: F405
ALLOW_ANONYMOUS = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Short sandbox limits keep the attack corpus (infinite loops, sleeps) fast.
SANDBOX_WALL_SECONDS = 4.0
SANDBOX_CPU_SECONDS = 2
SANDBOX_MEMORY_MB = 1024
SANDBOX_FILE_MB = 20
BACKGROUND_TASKS_EAGER = True
HEALTH_CACHE_SECONDS = 0.0  # every test sees a fresh deep check; tests of the cache set it
# Rate limits are off except in the tests that check them (they switch them on).
RATE_LIMITS_ENABLED = False
