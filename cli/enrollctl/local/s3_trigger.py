"""The S3 upload trigger, locally. moto's EventBridge rules never invoke Lambda or Step Functions, so
the runtime wraps ``moto.s3.notifications.send_event`` (called by moto's S3 backend for every object
event): for a bucket with EventBridge notifications on, an ObjectCreated event is turned into the
EventBridge event S3 would publish, matched against the pattern of each of the stack's ingest rules, and
delivered to that rule's target in a background thread (the S3 PUT is never blocked)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern
from moto.s3 import notifications

LOG = logging.getLogger(__name__)
Deliver = Callable[[dict[str, Any]], None]
_ORIGINAL_SEND_EVENT = notifications.send_event
_REASONS = {"Put": "PutObject", "Post": "PostObject", "Copy": "CopyObject",
            "CompleteMultipartUpload": "CompleteMultipartUpload"}


def eventbridge_event(account_id: str, event_name: str, bucket: Any, key: Any) -> dict[str, Any]:
    """The ``Object Created`` event S3 sends to EventBridge (docs: S3 'EventBridge event message')."""
    obj: dict[str, Any] = {"key": key.name, "size": key.size, "etag": key.etag.replace('"', ""),
                           "sequencer": f"{time.time_ns():016X}"}
    if getattr(key, "version_id", "null") not in (None, "null"):
        obj["version-id"] = key.version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
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
    """While installed, ObjectCreated events matching the pattern of a route are handed to its ``deliver``."""

    _active: S3Trigger | None = None

    def __init__(self, routes: Sequence[tuple[dict[str, Any], Deliver]]) -> None:
        self.routes = [(EventPattern(None, pattern), deliver) for pattern, deliver in routes]
        self.delivered: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []

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
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def on_object_event(self, account_id: str, event_name: str, bucket: Any, key: Any) -> None:
        config = bucket.notification_configuration
        if config is None or config.event_bridge is None or "ObjectCreated" not in str(event_name):
            return
        event = eventbridge_event(account_id, event_name, bucket, key)
        for pattern, deliver in self.routes:
            if pattern.matches_event(event):  # type: ignore[arg-type]
                self._start_delivery(event, deliver)

    def _start_delivery(self, event: dict[str, Any], deliver: Deliver) -> None:
        thread = threading.Thread(target=self._deliver, args=(event, deliver), name="s3-trigger", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _deliver(self, event: dict[str, Any], deliver: Deliver) -> None:
        self.delivered.append(event)
        try:
            deliver(event)
        except Exception:
            LOG.exception("delivering %s to its rule's target failed", event["detail"]["object"]["key"])


def _send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    _ORIGINAL_SEND_EVENT(account_id, event_name, bucket, key)
    trigger = S3Trigger._active
    if trigger is not None:
        try:
            trigger.on_object_event(account_id, str(getattr(event_name, "value", event_name)), bucket, key)
        except Exception:
            LOG.exception("local S3 trigger failed")
