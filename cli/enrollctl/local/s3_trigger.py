"""The S3 upload trigger, locally. moto's EventBridge rules never invoke Lambda or Step Functions, so the runtime
wraps ``moto.s3.notifications.send_event`` (called by moto's S3 backend for every object event): for a bucket with
EventBridge notifications on, an ObjectCreated event is turned into the EventBridge event S3 would publish and
published on the local event bus (``events``), which delivers it to the target of each rule it matches.

S3 publishes an event once the object is stored; moto notifies from inside its ``put_object``, before the
request has set the object's metadata. So the events raised while the emulator serves a request are published
when the request is done (``PublishAfterRequest``, WSGI middleware in front of moto), or a target reading the
object's metadata (the upload's job options) could find none."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote_plus

from moto.s3 import notifications

from enrollctl.local.events import LocalEventBus

LOG = logging.getLogger(__name__)
SOURCE = "aws.s3"
_ORIGINAL_SEND_EVENT = notifications.send_event
_REASONS = {"Put": "PutObject", "Post": "PostObject", "Copy": "CopyObject",
            "CompleteMultipartUpload": "CompleteMultipartUpload"}
_REQUEST = threading.local()  # .pending: what to publish when the request this thread serves is done
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def encoded_key(key: str) -> str:
    """The object key as S3 writes it into event notifications: form-URL-encoded (a space becomes ``+``, a ``+``
    ``%2B``), the ``/`` between key segments kept."""
    return quote_plus(key, safe="/")


def eventbridge_event(account_id: str, event_name: str, bucket: Any, key: Any) -> dict[str, Any]:
    """The ``Object Created`` event S3 sends to EventBridge (docs: S3 'EventBridge event message')."""
    obj: dict[str, Any] = {"key": encoded_key(key.name), "size": key.size, "etag": key.etag.replace('"', ""),
                           "sequencer": f"{time.time_ns():016X}"}
    if getattr(key, "version_id", "null") not in (None, "null"):
        obj["version-id"] = key.version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": SOURCE,
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": bucket.region_name,
        "resources": [f"arn:aws:s3:::{bucket.name}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": _REASONS.get(str(event_name).rsplit(":", 1)[-1], "PutObject"),
        },
    }


class S3Trigger:
    """While installed, the ObjectCreated events of buckets with EventBridge notifications go to ``bus``."""

    _active: S3Trigger | None = None

    def __init__(self, bus: LocalEventBus) -> None:
        self.bus = bus

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The S3 events delivered to a rule's target so far (a duplicated one twice)."""
        return [event for event in self.bus.delivered if event.get("source") == SOURCE]

    def install(self) -> None:
        if S3Trigger._active is not None:
            raise RuntimeError("an S3 trigger is already installed in this process")
        S3Trigger._active = self
        notifications.send_event = _send_event

    def uninstall(self) -> None:
        if S3Trigger._active is self:
            S3Trigger._active = None
            notifications.send_event = _ORIGINAL_SEND_EVENT

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for the deliveries started so far (tests, shutdown)."""
        self.bus.wait_idle(timeout)

    def on_object_event(self, account_id: str, event_name: str, bucket: Any, key: Any) -> None:
        config = bucket.notification_configuration
        if config is None or config.event_bridge is None or "ObjectCreated" not in str(event_name):
            return
        self.bus.publish(eventbridge_event(account_id, event_name, bucket, key))


@contextmanager
def publishing_after_request() -> Iterator[None]:
    """The object events raised meanwhile (in this thread) are published at the end."""
    pending: list[Callable[[], None]] = []
    _REQUEST.pending = pending
    try:
        yield
    finally:
        _REQUEST.pending = None
        for publish in pending:
            publish()


class PublishAfterRequest:
    """WSGI middleware: each request's object events are published once moto has served the request."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with publishing_after_request():
            return self._app(environ, start_response)


def _send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    _ORIGINAL_SEND_EVENT(account_id, event_name, bucket, key)
    publish = partial(_publish, account_id, str(getattr(event_name, "value", event_name)), bucket, key)
    pending = getattr(_REQUEST, "pending", None)
    if pending is None:
        publish()
    else:
        pending.append(publish)


def _publish(account_id: str, event_name: str, bucket: Any, key: Any) -> None:
    trigger = S3Trigger._active
    if trigger is not None:
        try:
            trigger.on_object_event(account_id, event_name, bucket, key)
        except Exception:
            LOG.exception("local S3 trigger failed")
