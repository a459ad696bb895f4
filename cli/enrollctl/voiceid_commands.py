"""``enrollctl <operation>``: every Voice ID operation as ``aws voice-id`` names it, generated from the
``voice-id`` model its client speaks, the one shipped with the API (botocore's model and this project's
extension, ``speaker_enrollment.api.model``): one generic command, no hand-written one per operation.

Options are the input members in kebab case (``--domain-id``); structures take JSON or the AWS CLI shorthand
(``--input-data-config S3Uri=s3://b/k``), lists take several values or one JSON list. The response is printed
as the AWS CLI prints it (JSON, 4-space indent, no ResponseMetadata, timestamps in ISO 8601, UTC); errors too
(``An error occurred (Code) when calling the Operation operation: ...``, exit status 254). Paginated
operations fetch every page unless ``--no-paginate`` or ``--next-token`` is given.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeAlias

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.paginate import PaginatorModel

from enrollctl.local.jobs import ENDPOINT_ENV
from enrollctl.local.stack import DEFAULT_PORT, HOST
from enrollctl.shorthand import SCALAR_TYPES, ParameterError, coerce, list_value, structure_value
from enrollctl.voiceid_client import SERVICE, Target, botocore_session, voice_id_client, write_execute_api_model

EXIT_PARAMETER = 252  # as the AWS CLI: the command line is invalid (parsing, client-side validation)
EXIT_SERVICE = 254  # the service answered with an error
EXIT_OTHER = 255  # anything else: no connection, no credentials
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # what add_subparsers returns


@cache
def service_model() -> ServiceModel:
    return botocore_session().get_service_model(SERVICE)


def command_name(operation_name: str) -> str:
    """``StartSpeakerEnrollmentJob`` → ``start-speaker-enrollment-job`` (the AWS CLI's naming)."""
    return str(xform_name(operation_name, "-"))


def option_name(member: str) -> str:
    """``DataAccessRoleArn`` → ``--data-access-role-arn``."""
    return f"--{xform_name(member, '-')}"


def summary(documentation: str | None) -> str:
    """The first sentence of a model's HTML documentation, as argparse help."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", documentation or "")).strip()
    return text.split(". ")[0].rstrip(".").replace("%", "%%")


# ------------------------------------------------------------------------------------------- the parsers


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """Where requests go (shared by the generated commands and ``wait``)."""
    group = parser.add_argument_group("target")
    group.add_argument("--endpoint-url", default=None,
                       help=f"the API: ${ENDPOINT_ENV}, else a local `enrollctl serve` (http://{HOST}:{DEFAULT_PORT})")
    group.add_argument("--region", default=None, help="signing region (default: an execute-api URL's, else "
                       "the AWS configuration's when --deployed, else us-east-1)")
    group.add_argument("--profile", default=None, help="AWS profile of the credentials (--deployed, or a "
                       "local runtime started with `serve --iam`)")
    group.add_argument("--deployed", action="store_true",
                       help="a deployed stack's API: sign with your AWS credentials for execute-api "
                       "(automatic for https://<id>.execute-api.<region>.amazonaws.com URLs)")


def target_of(args: argparse.Namespace) -> Target:
    return Target.resolve(args.endpoint_url, args.region, args.deployed, args.profile)


def add_operation_commands(commands: Commands) -> None:
    model = service_model()
    for name in model.operation_names:
        _add_operation(commands, model.operation_model(name))


def _add_operation(commands: Commands, operation: OperationModel) -> None:
    parser = commands.add_parser(command_name(operation.name), help=summary(operation.documentation),
                                 description=summary(operation.documentation))
    shape = operation.input_shape
    if shape is not None:
        required = set(shape.required_members)
        for member, member_shape in shape.members.items():
            _add_member(parser, member, member_shape, member in required)
    if _paginator(operation) is not None:
        _add_paging_options(parser)
    add_target_options(parser)
    parser.set_defaults(func=partial(run_operation, operation))


def _add_member(parser: argparse.ArgumentParser, member: str, shape: Shape, required: bool) -> None:
    options: dict[str, Any] = {"dest": member, "required": required, "help": summary(shape.documentation)}
    kind = shape.type_name
    if kind == "boolean":
        options["action"] = argparse.BooleanOptionalAction
    elif kind == "list":
        options.update(nargs="+", metavar="VALUE")
    elif kind in SCALAR_TYPES:
        options["metavar"] = kind.upper()
    else:
        options["metavar"] = "JSON|SHORTHAND"
    parser.add_argument(option_name(member), **options)


def _add_paging_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pagination (as the AWS CLI)")
    group.add_argument("--no-paginate", action="store_true", help="one call: the first page and its NextToken")
    group.add_argument("--max-items", type=int, default=None, help="stop after this many items (prints NextToken)")
    group.add_argument("--starting-token", default=None, help="the NextToken a --max-items run printed")


def add_aws_cli_model_command(commands: Commands) -> None:
    model = commands.add_parser(
        "aws-cli-model", help="write the voice-id model that makes `aws voice-id` sign for API Gateway",
        description="Writes the voice-id model shipped with the API (botocore's, and this project's extension) "
        "with the SigV4 signing name execute-api under DIR; with AWS_DATA_PATH=DIR the AWS CLI (`aws voice-id ... "
        "--endpoint-url <stage URL>`) loads it instead of its own (or where it has none) and so passes API "
        "Gateway's IAM authorization.")
    model.add_argument("directory", metavar="DIR", type=Path)
    model.set_defaults(func=cmd_aws_cli_model)


def cmd_aws_cli_model(args: argparse.Namespace) -> int:
    path = write_execute_api_model(args.directory)
    print(f"wrote {path}", file=sys.stderr)
    print(f"export AWS_DATA_PATH={args.directory.resolve()}")
    return 0


# ----------------------------------------------------------------------------------------- the requests


def build_request(operation: OperationModel, args: argparse.Namespace) -> dict[str, Any]:
    """The operation's input from the parsed options (absent options are left out)."""
    shape = operation.input_shape
    request: dict[str, Any] = {}
    for member, member_shape in (shape.members.items() if shape is not None else ()):
        value = getattr(args, member, None)
        if value is None:
            continue
        try:
            request[member] = _parameter(value, member_shape)
        except ParameterError as error:
            raise ParameterError(f"Error parsing parameter '{option_name(member)}': {error}") from None
    return request


def _parameter(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "list":
        return list_value(list(value), shape)
    if kind in ("structure", "map"):
        return structure_value(str(value), shape)
    return coerce(value, shape)


@cache
def paginator_model() -> PaginatorModel:
    return botocore_session().get_paginator_model(SERVICE)


def _paginator(operation: OperationModel) -> dict[str, Any] | None:
    """The operation's paginator configuration (input_token, limit_key, ...), if it has one."""
    try:
        config: dict[str, Any] = paginator_model().get_paginator(operation.name)
    except ValueError:
        return None
    return config


def call(client: Any, operation: OperationModel, request: dict[str, Any], args: argparse.Namespace) -> Any:
    """One call, or (paginated operation, no manual NextToken, no --no-paginate) every page merged."""
    method_name = xform_name(operation.name)
    config = _paginator(operation)
    manual = config is None or args.no_paginate or request.get(config["input_token"]) is not None
    if manual:
        return getattr(client, method_name)(**request)
    assert config is not None
    page_size = request.pop(config["limit_key"], None)
    paging = {"MaxItems": args.max_items, "StartingToken": args.starting_token, "PageSize": page_size}
    pages = client.get_paginator(method_name).paginate(
        **request, PaginationConfig={key: value for key, value in paging.items() if value is not None})
    return pages.build_full_result()


# ------------------------------------------------------------------------------------------- the output


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def format_response(response: dict[str, Any]) -> str:
    """As the AWS CLI's JSON output: no ResponseMetadata; nothing at all for an empty response."""
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    return json.dumps(body, indent=4, ensure_ascii=False, default=_json_default) if body else ""


def report_error(error: Exception) -> int:
    """Print ``error`` as the AWS CLI does (a blank line, then botocore's message); the exit status."""
    print(f"\n{error}", file=sys.stderr)
    if isinstance(error, ClientError):
        return EXIT_SERVICE
    if isinstance(error, ParamValidationError | ParameterError):
        return EXIT_PARAMETER
    return EXIT_OTHER


def run_operation(operation: OperationModel, args: argparse.Namespace) -> int:
    try:
        request = build_request(operation, args)
        response = call(voice_id_client(target_of(args)), operation, request, args)
    except (ParameterError, BotoCoreError, ClientError) as error:
        return report_error(error)
    output = format_response(response)
    if output:
        print(output)
    return 0
