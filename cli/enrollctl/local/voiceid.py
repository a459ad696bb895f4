"""One port for everything: requests carrying ``X-Amz-Target: VoiceID.*`` go to our Voice ID API, all others to
moto, so one ``endpoint_url`` serves every boto3 client (``voice-id`` included).

With ``enrollctl serve --iam`` a Voice ID request is first authenticated as API Gateway's IAM auth does (its SigV4
signature and access key: ``iam.LocalIam.authenticate``), and the signer's ARN is the caller the API authorizes;
without it the API is open (its authorizer is ``OpenAccess``) and the caller is not looked for.

``VoiceIdRouter`` is WSGI middleware in front of moto's server app; ``EmulatorServer`` is moto's
``ThreadedMotoServer`` (moto 5.2.5, pinned) serving that app instead of moto's alone (with the S3 events of each
request published once moto has served it: ``s3_trigger.PublishAfterRequest``), dispatched by ``Dispatcher``.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from speaker_enrollment.api import CONTENT_TYPE, TARGET_PREFIX, ApiResponse, VoiceIdApi
from speaker_enrollment.api.errors import InternalServerException
from werkzeug.datastructures import EnvironHeaders
from werkzeug.serving import make_server

from enrollctl.local.iam import AuthenticationError, LocalIam
from enrollctl.local.s3_trigger import PublishAfterRequest

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ApiSource = Callable[[], VoiceIdApi | None]
AUTHENTICATION_STATUS = 403  # API Gateway's answer to a request its IAM auth refuses


class VoiceIdRouter:
    def __init__(self, moto_app: WsgiApp, api: ApiSource, iam: LocalIam | None = None) -> None:
        self._moto = moto_app
        self._api = api  # None until the runtime has provisioned what the API needs
        self._iam = iam  # None: no authentication (the API is open)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith(TARGET_PREFIX):
            return self._moto(environ, start_response)
        response = self._answer(target, _body(environ), environ)
        payload = response.json().encode()
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", [
            ("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ])
        return [payload]

    def _answer(self, target: str, body: bytes, environ: dict[str, Any]) -> ApiResponse:
        api = self._api()
        if api is None:
            error = InternalServerException("The local runtime is still starting; retry")
            return ApiResponse(error.status, error.body())
        try:
            caller = self._caller(target, body, environ)
        except AuthenticationError as refused:
            return ApiResponse(AUTHENTICATION_STATUS, {"__type": refused.code, "message": refused.message})
        return api.handle(target, body, caller)

    def _caller(self, target: str, body: bytes, environ: dict[str, Any]) -> str | None:
        if self._iam is None:
            return None
        path = str(environ.get("PATH_INFO") or "/")
        query = str(environ.get("QUERY_STRING") or "")
        return self._iam.authenticate(str(environ.get("REQUEST_METHOD", "POST")), f"{path}?{query}" if query else path,
                                      dict(EnvironHeaders(environ)), body,
                                      "voiceid:" + target.removeprefix(TARGET_PREFIX))


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


class Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher without its lock around every request. moto holds one lock while it finds a request's
    service (its host against every service's URL patterns) and its app: every request of every thread passes
    through it, and under a burst the holder waits for the GIL behind every busy handler, so each AWS call of every
    handler queued there (thread dumps of a 60-upload burst: 70 to 88 of 100 server threads waiting on it). The
    service of a host never changes, so it is memoized; only creating a service's app needs the lock."""

    def __init__(self, create_app: Callable[[Any], Any]) -> None:
        super().__init__(self._create_once)
        self.lock = contextlib.nullcontext()  # type: ignore[assignment]
        self._create_app = create_app
        self._create_lock = threading.Lock()
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]

    def _create_once(self, backend: Any) -> Any:
        with self._create_lock:
            if backend not in self.app_instances:
                self.app_instances[backend] = self._create_app(backend)
            return self.app_instances[backend]


class EmulatorServer(ThreadedMotoServer):
    """``ThreadedMotoServer`` whose app is ``VoiceIdRouter(moto's app)``."""

    def __init__(self, api: ApiSource, ip_address: str, port: int, iam: LocalIam | None = None) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._api_source = api
        self._iam = iam

    def _server_entry(self) -> None:  # moto's own, with the router in front of its app
        moto_app = PublishAfterRequest(Dispatcher(create_backend_app))
        app = VoiceIdRouter(moto_app, self._api_source, self._iam)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
