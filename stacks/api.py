"""The Voice ID API: an API Gateway REST API with IAM (SigV4) authorization in front of one Lambda function.

The wire protocol is Voice ID's own (AWS JSON 1.0: ``POST /`` with ``X-Amz-Target: VoiceID.<Operation>``), so
boto3, the AWS CLI and ``enrollctl`` talk to the stage URL as they talked to ``voiceid.<region>.amazonaws.com``,
signing for ``execute-api`` instead of ``voiceid``. docs/architecture.md, section "Voice ID API".
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.domain_keys import grant_domain_keys
from stacks.nag import acknowledge, acknowledge_wildcard
from stacks.storage import EnrollmentStorage
from stacks.workflow import EnrollmentWorkflow, FunctionSpec, allow, encrypted_log_group

API_FUNCTION = FunctionSpec(
    "VoiceIdApiFunction",
    "speaker_enrollment.handlers.api.handler",
    512,
    Duration.seconds(29),  # API Gateway's integration timeout: a longer run has no one to answer
    "Voice ID API (AWS JSON 1.0, X-Amz-Target: VoiceID.<Operation>) behind API Gateway",
)
STAGE_NAME = "v1"
TARGET_HEADER = "X-Amz-Target"
THROTTLING_RATE_LIMIT = 50  # requests per second, steady, for the whole stage
THROTTLING_BURST_LIMIT = 100
# API Gateway's own refusals (signature, IAM, throttling, missing X-Amz-Target) in the Voice ID error shape,
# so SDKs report (and retry) them by name instead of as a bare HTTP status.
GATEWAY_ERRORS = (
    (apigw.ResponseType.ACCESS_DENIED, "AccessDeniedException"),
    (apigw.ResponseType.INVALID_SIGNATURE, "InvalidSignatureException"),
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "MissingAuthenticationTokenException"),
    (apigw.ResponseType.EXPIRED_TOKEN, "ExpiredTokenException"),
    (apigw.ResponseType.THROTTLED, "ThrottlingException"),
    (apigw.ResponseType.BAD_REQUEST_PARAMETERS, "ValidationException"),
    (apigw.ResponseType.DEFAULT_5_XX, "InternalServerException"),
)
Field = apigw.AccessLogField
ACCESS_LOG_FIELDS = {
    "requestId": Field.context_request_id(),
    "extendedRequestId": Field.context_extended_request_id(),
    "requestTime": Field.context_request_time(),
    "ip": Field.context_identity_source_ip(),
    "userArn": Field.context_identity_user_arn(),
    "userAgent": Field.context_identity_user_agent(),
    "httpMethod": Field.context_http_method(),
    "resourcePath": Field.context_resource_path(),
    "protocol": Field.context_protocol(),
    "status": Field.context_status(),
    "errorType": Field.context_error_response_type(),
    "responseLength": Field.context_response_length(),
    "responseLatency": Field.context_response_latency(),
    "integrationStatus": Field.context_integration_status(),
    "integrationLatency": Field.context_integration_latency(),
    "xrayTraceId": Field.context_xray_trace_id(),
}


class VoiceIdRestApi(Construct):
    """REST API (IAM auth on its one method, ``POST /``) -> ``VoiceIdApiFunction`` -> ``VoiceIdApi.handle``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, storage: EnrollmentStorage, workflow: EnrollmentWorkflow
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        factory = workflow.function_factory
        self.role = factory.role(self, API_FUNCTION)
        self.function = factory.function(self, API_FUNCTION, self.role, self._environment(workflow))
        self._grant(workflow)
        self.access_logs = encrypted_log_group(self, "AccessLogs", storage.key)
        self.rest_api = self._rest_api(self.access_logs)
        self._add_voice_id_method()
        self._add_gateway_responses()
        self._acknowledge()

    @property
    def url(self) -> str:
        """The stage URL (``https://<id>.execute-api.<region>.amazonaws.com/v1/``): the SDKs' endpoint_url."""
        return self.rest_api.url

    # -- The function ------------------------------------------------------------------------------

    def _environment(self, workflow: EnrollmentWorkflow) -> dict[str, str]:
        storage = self._storage
        return {
            **workflow.environment,
            "STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn,
            "API_TOKEN_KEY_ID": storage.token_key.key_arn,
            "ACCOUNT_ID": Stack.of(self).account,  # domain ARNs name it; saves the API an STS call
        }

    def _grant(self, workflow: EnrollmentWorkflow) -> None:
        storage, role = self._storage, self.role
        self._grant_tables()
        storage.grant_key_read_write(role)  # the tables' items are encrypted with the stack key
        # CreateDomain/UpdateDomain check the domain's key; speaker and fraudster operations open and seal
        # voiceprints under it (the re-encryption under a new key is the maintenance workflow's).
        grant_domain_keys(role)
        # NextToken: GenerateMac signs a page position, VerifyMac checks one presented by a client.
        storage.token_key.grant(role, "kms:GenerateMac", "kms:VerifyMac")
        # StartSpeakerEnrollmentJob / StartFraudsterRegistrationJob start the workflow; no iam:PassRole (the state
        # machine has its own role) and no S3 (Start only validates the URIs: the workflow reads and writes them
        # with the DataAccessRoleArn).
        workflow.state_machine.grant_start_execution(role)
        self._grant_authorization()

    def _grant_authorization(self) -> None:
        """Every request is authorized for its caller (speaker_enrollment.api.authorization): SimulatePrincipalPolicy
        on the caller's user or role, and GetRole to find an assumed role's ARN (with its path) from its name.
        Callers are principals of this account only (API Gateway admits no other by default); IAM offers no
        narrower resource for these actions than every user and role of the account."""
        stack, role = Stack.of(self), self.role
        users, roles = (stack.format_arn(service="iam", region="", resource=kind, resource_name="*")
                        for kind in ("user", "role"))
        allow(role, "iam", ["SimulatePrincipalPolicy"], users)
        allow(role, "iam", ["SimulatePrincipalPolicy", "GetRole"], roles)
        for kind, what in (("user", "IAM users"), ("role", "IAM roles (an assumed role's session is simulated as its "
                                                             "role, found by name with GetRole)")):
            acknowledge_wildcard(
                role, f"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:{kind}/*",
                f"Authorizes each Voice ID request as its caller's voiceid:<Operation> (and iam:PassRole): the "
                f"caller is any of this account's {what}, known only per request; SimulatePrincipalPolicy only "
                f"reads policies, and is limited to principals of this account.",
            )

    def _grant_tables(self) -> None:
        """Exactly what the implemented operations (speaker_enrollment.api.operations) call through the
        adapters; a TransactWriteItems needs the permission of each action in it."""
        storage, role = self._storage, self.role
        # Domains. GetItem: every domain-scoped operation checks its domain (Describe/UpdateDomain, Start...,
        # a CreateDomain retried with its ClientToken, the first release's SpeakerCount under the quota);
        # PutItem: CreateDomain; UpdateItem: UpdateDomain, Tag/UntagResource (tags live on the domain item),
        # DeleteDomain (a tombstone), DeleteSpeaker of a speaker the first release counted; Scan: ListDomains.
        allow(role, "dynamodb", ["GetItem", "PutItem", "UpdateItem", "Scan"], storage.domains_table.table_arn)
        # Jobs (both kinds). GetItem: Describe...Job, a Start retried with its ClientToken; PutItem: Start;
        # Query: List...Jobs.
        allow(role, "dynamodb", ["GetItem", "PutItem", "Query"], storage.jobs_table.table_arn)
        # Speakers. GetItem: Describe/Delete/OptOutSpeaker by CustomerSpeakerId; PutItem: OptOutSpeaker of a new
        # speaker; UpdateItem: OptOutSpeaker of a known one, and the count slots of new and deleted speakers;
        # DeleteItem: DeleteSpeaker; Query: ListSpeakers, and of the GeneratedSpeakerId index: the speaker
        # operations given a GeneratedSpeakerId.
        allow(role, "dynamodb", ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
              storage.speakers_table.table_arn)
        storage.grant_speaker_lookup(role)
        # Watchlists. GetItem: the watchlist operations, Start's FraudDetectionConfig.WatchlistIds, the fraudster
        # operations; PutItem: CreateDomain (its default watchlist), CreateWatchlist; UpdateItem: UpdateWatchlist
        # and the FraudsterCount of Associate/Disassociate/DeleteFraudster; DeleteItem: DeleteWatchlist,
        # DeleteDomain; Query: ListWatchlists, DeleteDomain. (Domains' UpdateItem covers WatchlistCount.)
        allow(role, "dynamodb", ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
              storage.watchlists_table.table_arn)
        # Fraudsters. GetItem: Describe/Delete/Associate/DisassociateFraudster; PutItem: Associate/Disassociate
        # (a conditional Put of the new memberships); DeleteItem: DeleteFraudster; Query: ListFraudsters.
        allow(role, "dynamodb", ["GetItem", "PutItem", "DeleteItem", "Query"], storage.fraudsters_table.table_arn)

    # -- The REST API ------------------------------------------------------------------------------

    def _rest_api(self, access_logs: logs.ILogGroup) -> apigw.RestApi:
        rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="Speaker enrollment: the Voice ID API (AWS JSON 1.0) with IAM (SigV4, execute-api) auth",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution and access logging need the account's API Gateway CloudWatch role (one per account
            # and region); retained so other APIs keep logging when this stack goes.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies carry speaker ids and role ARNs: not in logs
                throttling_rate_limit=THROTTLING_RATE_LIMIT,
                throttling_burst_limit=THROTTLING_BURST_LIMIT,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        )
        rest_api.node.try_remove_child("Endpoint")  # CDK's unnamed output; the stack names it VoiceIdApiEndpoint
        return rest_api

    def _add_voice_id_method(self) -> None:
        validator = apigw.RequestValidator(
            self,
            "TargetHeaderValidator",
            rest_api=self.rest_api,
            # X-Amz-Target must be present. A body is checked only against a method model, and there is none:
            # the function validates each operation's input against Voice ID's model (shipped with its code).
            validate_request_parameters=True,
            validate_request_body=True,
        )
        self.rest_api.root.add_method(
            "POST",
            apigw.LambdaIntegration(self.function, proxy=True, allow_test_invoke=False),
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=validator,
            request_parameters={f"method.request.header.{TARGET_HEADER}": True},
        )

    def _add_gateway_responses(self) -> None:
        for response_type, exception in GATEWAY_ERRORS:
            body = f'{{"__type":"{exception}","message":$context.error.messageString}}'
            self.rest_api.add_gateway_response(
                f"{exception}Response-{response_type.response_type}",
                type=response_type,
                templates={"application/json": body},
            )

    # -- cdk-nag -----------------------------------------------------------------------------------

    def _acknowledge(self) -> None:
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF web ACL by default: every request must carry a valid SigV4 signature of an IAM principal "
            "of this account (IAM authorization, as Voice ID itself), and the stage is throttled; attach a web "
            "ACL to the stage where the organisation's policy asks for one.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "Authorization is IAM (SigV4) on every method, exactly as for Amazon Connect Voice ID, whose "
            "callers are IAM principals (contact-center back ends, admins' CLI), not Cognito users.",
        )
        role = self.rest_api.node.find_child("CloudWatchRole")
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway writes execution and access logs with; AWS's managed policy is "
            "the documented one for it and is the only permission the role has.",
        )

