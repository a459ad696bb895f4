"""The one stack: storage + workflow + manifest ingest + the Voice ID API, and the outputs users and the CLI need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from constructs import Construct
from speaker_enrollment.settings import Tunables

from stacks.api import VoiceIdRestApi
from stacks.failure_watch import ExecutionFailureWatch
from stacks.ingest import ManifestIngest
from stacks.maintenance import DomainMaintenance
from stacks.sessions import SessionEvaluation
from stacks.storage import DataRetention, EnrollmentStorage, SpeakerIndexStep
from stacks.workflow import EnrollmentWorkflow, WorkflowCapacity


class SpeakerEnrollmentStack(Stack):
    """Self-hosted replacement for Amazon Connect Voice ID batch speaker enrollment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_dir: Path,
        layer_dir: Path,
        settings: Tunables | None = None,
        capacity: WorkflowCapacity | None = None,
        retention: DataRetention | None = None,
        speaker_index: SpeakerIndexStep = SpeakerIndexStep.DROP,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.storage = EnrollmentStorage(self, "Storage", retention=retention, speaker_index=speaker_index)
        self.workflow = EnrollmentWorkflow(
            self, "Workflow", storage=self.storage, code_dir=code_dir, layer_dir=layer_dir, settings=settings,
            capacity=capacity,
        )
        self.ingest = ManifestIngest(
            self, "ManifestIngest", storage=self.storage, submit_job_function=self.workflow.submit_job_function
        )
        self.failure_watch = ExecutionFailureWatch(
            self, "ExecutionFailureWatch", state_machine=self.workflow.state_machine,
            fail_job_function=self.workflow.fail_job_function, dead_letter_queue=self.ingest.dead_letter_queue,
        )
        self.api = VoiceIdRestApi(self, "VoiceIdApi", storage=self.storage, workflow=self.workflow)
        self.sessions = SessionEvaluation(
            self, "SessionEvaluation", storage=self.storage, workflow=self.workflow, api=self.api,
            dead_letter_queue=self.ingest.dead_letter_queue,
        )
        self.maintenance = DomainMaintenance(
            self, "DomainMaintenance", storage=self.storage, workflow=self.workflow, api=self.api,
            dead_letter_queue=self.ingest.dead_letter_queue,
        )
        self._outputs()

    def _outputs(self) -> None:
        storage = self.storage
        outputs = {
            "InboxBucketName": (storage.inbox_bucket.bucket_name, "Upload manifests to manifests/<DomainId>/"),
            "OutputBucketName": (storage.output_bucket.bucket_name, "Output files of upload-started jobs"),
            "WorkBucketName": (storage.work_bucket.bucket_name, "Job shards and results (expire after 30 days)"),
            "KmsKeyArn": (storage.key.key_arn, "Customer-managed key encrypting buckets, tables and logs"),
            "StateMachineArn": (self.workflow.state_machine.state_machine_arn, "Enrollment job workflow"),
            "MaintenanceStateMachineArn": (self.maintenance.state_machine.state_machine_arn,
                                           "Domain maintenance workflow: purge, expiry, re-encryption"),
            "DefaultDataAccessRoleArn": (
                storage.default_data_access_role.role_arn,
                "Data access role of jobs started by an upload to the inbox",
            ),
            "DataAccessTrustedRoleArns": (
                Fn.join(",", self.workflow.data_access_role_arns),
                "Roles that assume a job's DataAccessRoleArn: its trust policy must allow them",
            ),
            "DomainsTableName": (storage.domains_table.table_name, "DynamoDB table of domains"),
            "JobsTableName": (storage.jobs_table.table_name, "DynamoDB table of speaker enrollment jobs"),
            "SpeakersTableName": (storage.speakers_table.table_name, "DynamoDB table of enrolled speakers"),
            "WatchlistsTableName": (storage.watchlists_table.table_name, "DynamoDB table of fraudster watchlists"),
            "FraudstersTableName": (storage.fraudsters_table.table_name, "DynamoDB table of fraudsters"),
            "SessionsTableName": (storage.sessions_table.table_name, "DynamoDB table of recorded calls' sessions"),
            "VoiceIdApiEndpoint": (
                self.api.url,
                "Voice ID API stage URL: the endpoint_url of boto3 / aws voice-id / enrollctl (SigV4, execute-api)",
            ),
        }
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
