"""``enrollctl``: voiceprints and comparisons, the local runtime, and the Voice ID API from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from speaker_enrollment.voiceprint.audio import AudioError, Speech
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.scoring import cosine, score


def _read_speech(engine: VoiceprintEngine, path: str, channel: int) -> Speech:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AudioError(path, f"cannot read file ({exc.strerror})") from None
    return engine.speech(data, path, channel)


def cmd_voiceprint(args: argparse.Namespace) -> int:
    engine = VoiceprintEngine()
    speeches: list[Speech] = []
    failures = 0
    for path in args.files:
        try:
            speeches.append(_read_speech(engine, path, args.channel))
        except AudioError as exc:
            print(f"enrollctl: {exc}", file=sys.stderr)
            failures += 1
    for speech, voiceprint in zip(speeches, engine.voiceprints([[s] for s in speeches]), strict=True):
        record = {
            "File": speech.source,
            "ModelId": voiceprint.model_id,
            "NetSpeechSeconds": speech.net_speech_seconds,
            "Voiceprint": [round(x, 7) for x in voiceprint.as_list()],
        }
        print(json.dumps(record))
    return 1 if failures else 0


def cmd_compare(args: argparse.Namespace) -> int:
    engine = VoiceprintEngine()
    try:
        speech_a = _read_speech(engine, args.a, args.channel_a)
        speech_b = _read_speech(engine, args.b, args.channel_b)
    except AudioError as exc:
        print(f"enrollctl: {exc}", file=sys.stderr)
        return 1
    first, second = engine.voiceprints([[speech_a], [speech_b]])
    cos = cosine(first.vector, second.vector)
    print(json.dumps({
        "Score": score(cos),
        "Cosine": round(cos, 6),
        "NetSpeechSeconds": [speech_a.net_speech_seconds, speech_b.net_speech_seconds],
    }))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from enrollctl.local.concurrency import ConcurrencyLimits  # noqa: PLC0415 - moto only when serving
    from enrollctl.local.runtime import LocalRuntime  # noqa: PLC0415

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="enrollctl: %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _exit_on_signal)
    runtime = LocalRuntime.start(port=args.port, region=args.region, faults=args.faults, fault_seed=args.fault_seed,
                                 function_timeouts=dict(args.function_timeout), iam=args.iam,
                                 concurrency=ConcurrencyLimits.for_cores(per_function=args.function_concurrency,
                                                                         total=args.concurrency))
    print(runtime.info().json_line(), flush=True)
    if args.schedules:
        clocked = runtime.start_schedule_clock()
        print(f"enrollctl: scheduled rules fired at their rate: {', '.join(clocked) or 'none'}", file=sys.stderr)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            runtime.serve_forever()
    finally:
        if runtime.faults.active:  # one more JSON line: what was injected, per fault
            counts = {name: count.as_dict() for name, count in runtime.fault_counts().items()}
            print(json.dumps({"FaultCounts": counts, "FaultSeed": runtime.faults.seed}), flush=True)
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_jobs(args: argparse.Namespace) -> int:
    from enrollctl.local.jobs import format_table, list_jobs  # noqa: PLC0415

    try:
        rows = list_jobs(args.endpoint, args.region)
    except (BotoCoreError, ClientError) as exc:
        print(f"enrollctl: cannot list jobs at {args.endpoint or 'the local endpoint'}: {exc}", file=sys.stderr)
        return 1
    print(format_table(rows))
    return 0


def _fault_spec(text: str) -> str:
    from enrollctl.local.faults import FaultSpecError, parse_rates  # noqa: PLC0415

    try:
        parse_rates(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _function_timeout(text: str) -> tuple[str, int]:
    name, separator, seconds = text.partition("=")
    if not separator or not name or not seconds.isdigit() or int(seconds) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=SECONDS (a construct id, whole seconds >= 1)")
    return name, int(seconds)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


def _add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from enrollctl.local.faults import FAULT_SEED_ENV, FAULTS_ENV, Fault  # noqa: PLC0415
    from enrollctl.local.stack import DEFAULT_PORT, DEFAULT_REGION  # noqa: PLC0415

    serve = commands.add_parser("serve", help="run the whole stack locally (emulated AWS endpoint, no Docker)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--region", default=DEFAULT_REGION)
    serve.add_argument("--faults", type=_fault_spec, default=os.environ.get(FAULTS_ENV, ""), metavar="SPEC",
                       help="inject faults as the services produce them: comma-separated NAME=RATE, RATE in 0..1, "
                            f"NAME one of {', '.join(Fault)} (default ${FAULTS_ENV}); each is logged on stderr, "
                            "and the counts are printed (a JSON line) on exit")
    serve.add_argument("--fault-seed", type=int, default=os.environ.get(FAULT_SEED_ENV), metavar="N",
                       help=f"seed of the faults' random source, for a reproducible run (default ${FAULT_SEED_ENV}, "
                            "else a random one, logged)")
    serve.add_argument("--function-timeout", type=_function_timeout, action="append", default=[],
                       metavar="NAME=SECONDS", help="override the timeout of the function with construct id NAME "
                                                    "(e.g. EnrollShardFunction=4); repeatable")
    serve.add_argument("--function-concurrency", type=_positive, metavar="N",
                       help="invocations of one function running at once; the others queue, their timeout counting "
                            "from when they start (default: the cores)")
    serve.add_argument("--concurrency", type=_positive, metavar="N",
                       help="invocations running at once in all (default: twice the cores)")
    serve.add_argument("--iam", action="store_true",
                       help="authorize as in AWS: every Voice ID request as its signer's voiceid:<Operation> (and "
                            "iam:PassRole), and IAM enforced by the emulated services; starts with one "
                            "administrator whose keys the first JSON line adds (AdminAccessKeyId, "
                            "AdminSecretAccessKey); without it the runtime is open (\"Authorization\": \"none\")")
    serve.add_argument("--schedules", action="store_true",
                       help="fire the stack's rate(...) scheduled rules at their rate, the first time one period "
                            "after the start (cron(...) ones are not fired; LocalRuntime.run_schedules fires all)")
    serve.set_defaults(func=cmd_serve)


def _add_local_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from enrollctl.local.stack import DEFAULT_PORT, DEFAULT_REGION  # noqa: PLC0415

    _add_serve_command(commands)

    jobs = commands.add_parser("jobs", help="list the jobs of a running `enrollctl serve`")
    jobs.add_argument("--endpoint", default=None,
                      help=f"endpoint URL (default $ENROLLCTL_ENDPOINT or http://127.0.0.1:{DEFAULT_PORT})")
    jobs.add_argument("--region", default=DEFAULT_REGION)
    jobs.set_defaults(func=cmd_jobs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enrollctl", description="Self-hosted Voice ID speaker enrollment")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    voiceprint = commands.add_parser("voiceprint", help="print one voiceprint (JSON line) per audio file")
    voiceprint.add_argument("files", nargs="+", metavar="FILE")
    voiceprint.add_argument("--channel", type=int, default=0, help="channel to use (ChannelId), default 0")
    voiceprint.set_defaults(func=cmd_voiceprint)

    compare = commands.add_parser("compare", help="score two recordings against each other (0-100)")
    compare.add_argument("a", metavar="A")
    compare.add_argument("b", metavar="B")
    compare.add_argument("--channel-a", type=int, default=0)
    compare.add_argument("--channel-b", type=int, default=0)
    compare.set_defaults(func=cmd_compare)
    _add_local_commands(commands)
    _add_voice_id_commands(commands)
    return parser


def _add_voice_id_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`wait`, `evaluate`, `aws-cli-model`, and every Voice ID operation as `aws voice-id` names it (from the
    shipped model)."""
    from enrollctl.voiceid_commands import add_aws_cli_model_command, add_operation_commands  # noqa: PLC0415
    from enrollctl.voiceid_evaluate import add_evaluate_command  # noqa: PLC0415
    from enrollctl.voiceid_wait import add_wait_command  # noqa: PLC0415

    add_wait_command(commands)
    add_evaluate_command(commands)
    add_aws_cli_model_command(commands)
    add_operation_commands(commands)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
