"""Sessions from recorded calls: an upload of sessions/<DomainId>/<SessionName>.<ext> to the inbox bucket is
evaluated as Voice ID's EvaluateSession would (speaker_enrollment.domain.workflow.sessions), and the API's
EvaluateSession reads the result."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from speaker_enrollment.domain.workflow.sessions import EVALUATION_SECONDS, SESSION_UPLOAD_PREFIX

from stacks.api import VoiceIdRestApi
from stacks.domain_keys import grant_domain_keys
from stacks.ingest import EVENT_MAX_AGE, EVENT_RETRY_ATTEMPTS, send_async_failures
from stacks.nag import acknowledge_wildcard, logical_id
from stacks.storage import EnrollmentStorage
from stacks.workflow import EnrollmentWorkflow, FunctionSpec, allow

SESSION_KEY_WILDCARD = f"{SESSION_UPLOAD_PREFIX}/*/*"
SESSION_OBJECTS = f"{SESSION_UPLOAD_PREFIX}/*"
EVALUATE = FunctionSpec(
    "EvaluateSessionFunction",
    "speaker_enrollment.handlers.evaluate_session.handler",
    2048,  # a 60 s call: decoding, VAD and about 40 LSTM windows, with the model loaded (~1.2 vCPU at 2 GB)
    Duration.seconds(EVALUATION_SECONDS),
    "S3 Object Created event for a recorded call (sessions/<DomainId>/<SessionName>.<ext>) -> the session's "
    "authentication and fraud detection results",
)


def session_event_pattern(inbox_bucket_name: str) -> dict[str, Any]:
    """The rule's event pattern as EventBridge sees it (also used by the tests' matcher)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [inbox_bucket_name]},
            "object": {"key": [{"wildcard": SESSION_KEY_WILDCARD}]},
        },
    }


class SessionEvaluation(Construct):
    """EventBridge rule (a recording uploaded under sessions/) -> EvaluateSessionFunction (dead-letter queue shared
    with the manifest ingest); the Voice ID API function reads the Sessions table for EvaluateSession."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: EnrollmentStorage,
        workflow: EnrollmentWorkflow,
        api: VoiceIdRestApi,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        factory = workflow.function_factory
        self.role = factory.role(self, EVALUATE)
        environment = {**workflow.environment, "SESSIONS_TABLE": storage.sessions_table.table_name}
        self.function = factory.function(self, EVALUATE, self.role, environment)
        self._grant()
        pattern = session_event_pattern(storage.inbox_bucket.bucket_name)
        self.rule = events.Rule(
            self,
            "SessionUploadedRule",
            description="A recorded call uploaded to the inbox bucket (sessions/<DomainId>/<SessionName>.<ext>) is "
            "evaluated as a Voice ID session",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=EVENT_MAX_AGE,
            )
        )
        send_async_failures(self.function, dead_letter_queue)
        self._let_the_api_read(api)

    def _grant(self) -> None:
        """Exactly the calls SessionEvaluator makes through the adapters."""
        storage, role = self._storage, self.role
        # The recording: its metadata (HeadObject: GetObject, of a version GetObjectVersion), its bytes, and the
        # voiceid-error tag on an upload that cannot be evaluated.
        allow(role, "s3", ["GetObject", "GetObjectVersion", "PutObjectTagging", "PutObjectVersionTagging"],
              storage.inbox_bucket.arn_for_objects(SESSION_OBJECTS))
        acknowledge_wildcard(
            role,
            f"Resource::<{logical_id(storage.inbox_bucket)}.Arn>/{SESSION_OBJECTS}",
            "Reads and tags the recording whose upload triggered the event; recordings are uploaded as "
            "sessions/<DomainId>/<SessionName>.<ext> with keys chosen by the uploader.",
        )
        # Sessions: GetItem (the stored session when a conditional write is refused), PutItem (begin, finish).
        allow(role, "dynamodb", ["GetItem", "PutItem"], storage.sessions_table.table_arn)
        allow(role, "dynamodb", ["GetItem"], storage.domains_table.table_arn)
        # The watchlist-id metadata must name a watchlist of the domain.
        allow(role, "dynamodb", ["GetItem"], storage.watchlists_table.table_arn)
        # Speakers: GetItem by CustomerSpeakerId, Query of the index by GeneratedSpeakerId, UpdateItem: the
        # conditional replace moving LastAccessedAt on ACCEPT.
        allow(role, "dynamodb", ["GetItem", "UpdateItem"], storage.speakers_table.table_arn)
        storage.grant_speaker_lookup(role)
        # Fraudsters: the watchlist's fraudsters (Query), once per session.
        allow(role, "dynamodb", ["Query"], storage.fraudsters_table.table_arn)
        storage.grant_key_read_write(role)
        grant_domain_keys(role)  # opens the speaker's and the watchlist's voiceprints; an ACCEPT reseals the speaker

    def _let_the_api_read(self, api: VoiceIdRestApi) -> None:
        """EvaluateSession: GetItem of one session."""
        api.function.add_environment("SESSIONS_TABLE", self._storage.sessions_table.table_name)
        allow(api.role, "dynamodb", ["GetItem"], self._storage.sessions_table.table_arn)
