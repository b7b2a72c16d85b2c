"""``python -m config.serve``: daphne, tuned for large uploads. Takes daphne's options.

Changes from plain ``daphne``:

* Twisted parses every ``multipart/form-data`` POST body into memory (``request.args``)
  before daphne sees it, although daphne never reads that result and Django parses the
  body again. For a 100 MB CSV upload this cost about 1.3 s and 600 MB of memory. Our
  request class switches that parsing off (Twisted's ``parsePOSTFormSubmission``).
* Bodies over the upload limit are refused with 413 from their Content-Length (or as
  chunks arrive), before Twisted buffers them to disk.
* No daphne access log: it prints query strings (see ``config.middleware``).
* The code sandbox is started (and supervised) with the server in the embedded setup.
* Daphne hands the body to the application in 8 KiB messages, and its command line
  cannot change that; 1 MiB messages cut the per-message overhead. Django still spools
  the body to disk as it arrives, so memory stays bounded.
* Slow clients are bounded. Daphne's own timeouts do not cover reading a request:
  ``--http-timeout`` limits the *application's* response time (off by default, and a
  streamed answer may rightly take minutes), ``--websocket_connect_timeout`` only the
  WebSocket handshake. Twisted's idle timeout is 12 hours and restarts on every byte, so
  a client sending one header byte a minute held a connection forever. Here a request's
  headers must all arrive within ``SERVER_HEADER_TIMEOUT`` seconds of the connection (or
  of the previous response), else 408 and close; and a connection silent for
  ``SERVER_IDLE_TIMEOUT`` seconds while sending is closed.
"""

from __future__ import annotations

import sys

from daphne import server as daphne_server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from config.body_limit import too_large_body

REQUEST_BUFFER_BYTES = 1024 * 1024


def body_limit_bytes() -> int:
    from django.conf import settings

    return settings.MAX_REQUEST_BODY_BYTES


class StreamedBodyRequest(WebRequest):
    """Refuses oversize bodies as they arrive and leaves multipart parsing to Django."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False
        self._body_bytes = 0
        self._refused = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802  (Twisted's name)
        # Twisted buffers the whole body before the application sees any of it, so the
        # ASGI guard alone would let a huge body fill the disk first.
        if length is not None and length > body_limit_bytes():
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802
        if self._refused:
            return
        self._body_bytes += len(data)
        if self._body_bytes > body_limit_bytes():
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        if self._refused:
            return
        self._refused = True
        body = too_large_body(body_limit_bytes())
        self.channel.transport.write(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        self.channel.transport.loseConnection()


def header_timeout_seconds() -> float:
    from django.conf import settings

    return settings.SERVER_HEADER_TIMEOUT


def idle_timeout_seconds() -> float:
    from django.conf import settings

    return settings.SERVER_IDLE_TIMEOUT


class HeaderDeadlineChannel(HTTPChannel):
    """An HTTP/1.x channel that gives each request's headers a deadline (408 past it)."""

    _header_deadline = None

    def connectionMade(self) -> None:  # noqa: N802  (Twisted's name)
        super().connectionMade()
        self._arm_header_deadline()

    def allHeadersReceived(self) -> None:  # noqa: N802
        self._disarm_header_deadline()
        super().allHeadersReceived()

    def requestDone(self, request) -> None:  # noqa: N802
        super().requestDone(request)
        if self.transport is not None and not getattr(self.transport, "disconnecting", False):
            self._arm_header_deadline()  # a kept-alive connection's next request

    def connectionLost(self, reason) -> None:  # noqa: N802
        self._disarm_header_deadline()
        super().connectionLost(reason)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.callLater(header_timeout_seconds(), self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None and self._header_deadline.active():
            self._header_deadline.cancel()
        self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        self.transport.loseConnection()


class StreamedBodyHTTPFactory(HTTPFactory):
    def protocol(self):
        return _GenericHTTPChannelProtocol(HeaderDeadlineChannel())

    def buildProtocol(self, addr):  # noqa: N802  (Twisted's name)
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = StreamedBodyRequest
        # Twisted's default idle timeout is 12 hours.
        protocol.timeOut = idle_timeout_seconds()
        return protocol


class AnalystServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        kwargs["request_buffer_size"] = REQUEST_BUFFER_BYTES
        # Daphne's access log prints query strings, which may carry api_key; our
        # RequestLogMiddleware logs each request without them.
        kwargs["action_logger"] = None
        super().__init__(*args, **kwargs)

    def run(self) -> None:
        # Server.run() builds its factory from this module-level name.
        daphne_server.HTTPFactory = StreamedBodyHTTPFactory
        super().run()


class AnalystCommandLine(CommandLineInterface):
    server_class = AnalystServer

    def load_asgi_app(self, asgi_app_path: str):
        application = super().load_asgi_app(asgi_app_path)
        # Start the sandbox now, so the first execution does not wait for its imports.
        from codeexec import supervisor

        supervisor.ensure_started()
        return application


if __name__ == "__main__":
    AnalystCommandLine().run(sys.argv[1:])
