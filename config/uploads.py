"""Upload size limit enforced while the body streams in (413 before it is all read)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from config.errors import UploadTooLarge

# Room for the multipart envelope and the small form fields beside the file.
_ENVELOPE_BYTES = 1024 * 1024


def _limit_message() -> str:
    return f"The upload is larger than the {settings.MAX_UPLOAD_MB} MB limit (MAX_UPLOAD_MB)."


class SizeLimitUploadHandler(FileUploadHandler):
    """First handler in the chain: refuses by Content-Length, then by bytes received."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # noqa: N803
        if content_length and content_length > settings.MAX_UPLOAD_BYTES + _ENVELOPE_BYTES:
            raise UploadTooLarge(_limit_message())
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.MAX_UPLOAD_BYTES:
            raise UploadTooLarge(_limit_message())
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
