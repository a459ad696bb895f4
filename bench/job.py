"""Job benchmark (issue #3 item 8): a 200-request job on the local runtime against pure compute.

Run: ``make bench-job`` (``python -m bench.job`` inside ``.venv``; needs ``make speech``), about 4-5
minutes on 2 idle cores. ``--sweep`` then runs the same job in every SWEEP configuration (SHARD_SIZE,
VOICEPRINT_THREADS, MaxConcurrency; about a minute each) and prints a table; ``--sweep-only`` skips
the main report, ``--skip-memory`` the peak-RSS measurements; ``--requests N`` sizes the job.

What is measured:

* the job: every request is one 8 kHz PCM16 WAV of one voice (8 real speakers round-robin, parts
  0..3, 31-60 s of net speech, cut at different offsets) with its own SpeakerId, uploaded to the
  inbox bucket of an embedded ``LocalRuntime`` (its local defaults unless overridden); the wall time
  runs from the manifest upload to the job's final status, polled every POLL_SECONDS, next to the
  job record's CreatedAt → EndedAt; the output file must hold every RequestId exactly once;
* the same audio through ``VoiceprintEngine`` directly (decode + speech + voiceprints in pools of
  SHARD_SIZE requests, files already in memory, no AWS) in a fresh process with BLAS 1 thread,
  divided by the cores: the ideal the job is compared with; and, for reference, the first
  REFERENCE_SHARDS shards with BLAS on every core in one process;
* the CPU seconds of the job's process and of every other process meanwhile (the machine is shared:
  a busy neighbour shows there, not as a slow job);
* the peak RSS (ru_maxrss) of the enroll-shard step in a fresh process: ``run_shard`` over one
  shard's requests, audio read from disk on fetch as the S3 adapter would, in-memory speaker store;
  and one request of ten ~20 MB WAVs (real speech tiled to about 21.8 min each; issue target: 1 GB).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from enrollctl import samples
from speaker_enrollment.domain.shared.job import BatchJob
from speaker_enrollment.domain.workflow.jobtype import Limits, ShardServices
from speaker_enrollment.domain.workflow.kinds.enrollment import SPEAKER_ENROLLMENT, EnrollmentConfig, EnrollmentRequest
from speaker_enrollment.domain.workflow.manifest import AudioSpecification
from speaker_enrollment.domain.workflow.steps import run_shard
from speaker_enrollment.voiceprint import audio
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.vad import SileroVad

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20
FloatArray = npt.NDArray[np.float32]
REQUESTS = 200
CORES = len(os.sched_getaffinity(0))
TARGET_RATIO, TARGET_RSS_MB = 1.3, 1024
BASE_SECONDS = 120  # every (voice, part) recording is cut from this much of its speech
MIN_NET, SPAN_NET = 31, 27  # net speech asked per request: 31..57 s (a cut ends up to ~3 s over)
BIG_FILES, BIG_FILE_BYTES = 10, 20 * 1024 * 1024  # the "ten 20 MB files", under the 20 MiB limit
WAV_HEADER_BYTES = 44
QUIET = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_SHARD = 20
REFERENCE_SHARDS = 2  # the BLAS-2-threads reference runs on this many shards' requests
POLL_SECONDS = 0.5  # the job record's CreatedAt → EndedAt is exact; polling steals CPU from the job
# SHARD_SIZE, VOICEPRINT_THREADS, MaxConcurrency; None: the local runtime's default
SWEEP = ((None, None, None), (10, None, None), (50, None, None), (None, 2, None), (None, None, 10), (50, None, 10))


# ------------------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Recording:
    """One request's recording: about `net_seconds` of speech of one voice's part, from `offset` s on."""

    index: int
    voice: str
    part: int
    net_seconds: int
    offset: int

    @property
    def request_id(self) -> str:
        return f"req-{self.index:05d}"

    @property
    def speaker_id(self) -> str:
        return f"cust-{self.index:05d}"

    @property
    def file_name(self) -> str:
        return f"{self.speaker_id}.wav"


def corpus(count: int) -> list[Recording]:
    """Voices round-robin, then parts, net speech and offsets vary so no two requests say the same."""
    voices = sorted(samples.VOICES)
    return [
        Recording(i, voices[i % len(voices)], (i // len(voices)) % 4, MIN_NET + (i * 11) % SPAN_NET,
                  (i // (4 * len(voices))) % 7 * 5)
        for i in range(count)
    ]


@cache
def _detector() -> SileroVad:
    return SileroVad()


def net_speech(clip: FloatArray) -> float:
    """Net speech seconds the engine will find in `clip` (resample + VAD; no decode, no encoder)."""
    decoded = audio.DecodedAudio("bench", clip, samples.RATE, 1, "RAW")
    return audio.extract_speech(decoded, _detector()).net_speech_seconds


def clip_for(rec: Recording) -> FloatArray:
    """The shortest cut from `offset` with at least `net_seconds` of net speech (grown until it has)."""
    base = samples.recording(rec.voice, BASE_SECONDS, rec.part)[rec.offset * samples.RATE :]
    seconds = rec.net_seconds / 0.9
    while True:
        clip = base[: round(seconds * samples.RATE)]
        missing = rec.net_seconds - net_speech(clip)
        if missing <= 0 or clip.size == base.size:
            return clip
        seconds += missing * 1.2 + 0.5


def write_corpus(recordings: Sequence[Recording], folder: Path) -> float:
    """Write every recording as an 8 kHz PCM16 WAV; returns the seconds of audio written."""
    total = 0
    for rec in recordings:
        clip = clip_for(rec)
        (folder / rec.file_name).write_bytes(samples.wav_bytes(clip))
        total += clip.size
    samples.recording.cache_clear()
    return total / samples.RATE


def write_big_files(folder: Path) -> list[Path]:
    """Ten ~20 MB PCM16 WAVs (about 21.8 min each): one voice's speech tiled, each file shifted."""
    frames = (BIG_FILE_BYTES - WAV_HEADER_BYTES) // 2
    speech = np.concatenate([samples.recording("allison-en", BASE_SECONDS, part) for part in range(4)])
    paths = []
    for index in range(BIG_FILES):
        path = folder / f"big-{index}.wav"
        path.write_bytes(samples.wav_bytes(np.resize(np.roll(speech, index * 4001), frames)))
        paths.append(path)
    samples.recording.cache_clear()
    return paths


# --------------------------------------------------------------------------- child: pure compute


def peak_rss_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries the parent's peak across fork + exec into
    it (a child of the bench, which holds the local runtime's S3 objects, would report ~1 GB at start);
    VmHWM is the high-water mark of this process's own memory."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (``/proc/stat``: all but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def child_compute(folder: Path, threads: int, shard_size: int, start: int, stop: int) -> dict[str, Any]:
    """decode + speech + voiceprints of WAVs [start:stop] in `folder`, SHARD_SIZE requests per pool."""
    engine = VoiceprintEngine(threads=threads)
    files = [(path.name, path.read_bytes()) for path in sorted(folder.glob("cust-*.wav"))[start:stop]]
    net: list[float] = []
    shards: list[float] = []
    wall, cpu = time.perf_counter(), cpu_seconds()
    for first in range(0, len(files), shard_size):
        began = time.perf_counter()
        speeches = [[engine.speech(data, name)] for name, data in files[first : first + shard_size]]
        net.extend(p.net_speech_seconds for p in engine.voiceprints(speeches))
        shards.append(time.perf_counter() - began)
    return {"seconds": time.perf_counter() - wall, "cpu": cpu_seconds() - cpu, "files": len(files),
            "shards": shards, "net_min": min(net), "net_max": max(net), "net_total": sum(net)}


# ------------------------------------------------------------------------- child: one shard's RSS


@dataclass
class FileAudio:
    """The AudioSource port over local files (``s3://bench/<name>`` → folder/<name>), read on fetch."""

    folder: Path

    def fetch(self, s3_uri: str, max_bytes: int) -> bytes:
        return (self.folder / s3_uri.rsplit("/", 1)[-1]).read_bytes()


@dataclass
class MemorySpeakers:
    """The SpeakerStore port in memory (new speakers only; the bench never overwrites)."""

    speakers: dict[str, Any] = field(default_factory=dict)

    def get(self, domain_id: str, customer_speaker_id: str) -> Any:
        return self.speakers.get(customer_speaker_id)

    def create(self, speaker: Any, quota: int) -> None:
        self.speakers[speaker.customer_speaker_id] = speaker

    def replace(self, speaker: Any, expected: Any) -> None:
        self.speakers[speaker.customer_speaker_id] = speaker


class BenchKey:
    """The DomainKeys port: the bench domain's key is always usable (the bench seals nothing)."""

    def current_key(self, domain_id: str) -> str:
        return "arn:aws:kms:us-east-1:123456789012:key/bench"


class NoFraudsters:
    """The FraudsterSource port with an empty watchlist (the bench measures enrollment, not the fraud check)."""

    def in_watchlist(self, domain_id: str, watchlist_id: str) -> list[Any]:
        return []


def child_shard(folder: Path, names: Sequence[Sequence[str]], threads: int) -> dict[str, Any]:
    """``run_shard`` of a speaker enrollment job over requests of the named files, as the enroll-shard step runs
    it."""
    engine = VoiceprintEngine(threads=threads)
    job = BatchJob("bench", "bench", SPEAKER_ENROLLMENT.name, EnrollmentConfig(), "arn:aws:iam::1:role/r",
                   "s3://bench/m.json", "s3://bench/out/", created_at=time.time())
    limits = Limits(max_requests_per_job=10_000, shard_size=len(names), speaker_quota=100_000,
                    max_audio_file_bytes=BIG_FILE_BYTES, fraudster_quota=500,
                    max_speech_seconds=10**9)  # the worst case: every file is read
    services = ShardServices(job, MemorySpeakers(), NoFraudsters(), engine, BenchKey(), limits,  # type: ignore[arg-type]
                             time.time)
    requests = [
        EnrollmentRequest(f"req-{i}", f"cust-{i}", tuple(AudioSpecification(f"s3://bench/{n}", 0) for n in files))
        for i, files in enumerate(names)
    ]
    ready_rss = peak_rss_mb()
    wall = time.perf_counter()
    results = run_shard(SPEAKER_ENROLLMENT, services, FileAudio(folder), requests)
    statuses = Counter(str(getattr(r, "status", getattr(r, "error_code", "?"))) for r in results)
    return {"seconds": time.perf_counter() - wall, "peak_rss_mb": peak_rss_mb(), "ready_rss_mb": ready_rss,
            "statuses": dict(statuses)}


def child_command(args: Sequence[str], threads: int) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, **dict.fromkeys(BLAS_ENV, str(threads))}
    return [sys.executable, "-m", "bench.job", "--child", *args, "--threads", str(threads)], env


def child_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{' '.join(map(str, process.args))} failed:\n{stderr[-3000:]}")  # type: ignore[arg-type]
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_children(jobs: Sequence[Sequence[str]], threads: int) -> list[dict[str, Any]]:
    """Run ``python -m bench.job --child ...`` processes side by side, BLAS `threads` each; their JSON."""
    processes = []
    for args in jobs:
        command, env = child_command(args, threads)
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
    return [child_result(process) for process in processes]


def run_child(*args: str, threads: int) -> dict[str, Any]:
    return run_children([args], threads)[0]


# ------------------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class JobRun:
    shard_size: int
    threads: str
    max_concurrency: int
    requests: int
    wall: float
    created_to_ended: float
    cpu: float
    others_cpu: float  # CPU seconds other processes used meanwhile
    status: str
    statuses: dict[str, int]
    ids_exactly_once: bool


@dataclass(frozen=True)
class Config:
    """Overrides of the local defaults (None: what the runtime sets)."""

    shard_size: int | None = None
    threads: int | None = None
    max_concurrency: int | None = None

    def environment(self) -> dict[str, str]:
        env = dict(QUIET)
        if self.shard_size is not None:
            env["SHARD_SIZE"] = str(self.shard_size)
        if self.threads is not None:
            env["VOICEPRINT_THREADS"] = str(self.threads)
        return env


def with_max_concurrency(template: dict[str, Any], value: int) -> dict[str, Any]:
    text = re.sub(r'(\\?"MaxConcurrency\\?":\s*)\d+', lambda m: f"{m.group(1)}{value}", json.dumps(template))
    return json.loads(text)  # type: ignore[no-any-return]


def map_concurrency(node: Any) -> int:
    """The largest MaxConcurrency in a state machine definition (0 when there is none)."""
    if isinstance(node, dict):
        own = node.get("MaxConcurrency", 0)
        return max([own if isinstance(own, int) else 0, *(map_concurrency(v) for v in node.values())])
    if isinstance(node, list):
        return max((map_concurrency(v) for v in node), default=0)
    return 0


def start_runtime(config: Config) -> Any:
    """The local runtime; an explicit MaxConcurrency goes into the template and past the local cap."""
    from enrollctl.local import stack  # noqa: PLC0415 - see wait_final
    from enrollctl.local.runtime import LocalRuntime  # noqa: PLC0415
    from enrollctl.local.template import load_template  # noqa: PLC0415

    template, cap = load_template(None), stack.LOCAL_MAX_CONCURRENCY
    if config.max_concurrency is not None:
        template = with_max_concurrency(template, config.max_concurrency)
        stack.LOCAL_MAX_CONCURRENCY = config.max_concurrency
    try:
        return LocalRuntime.start(port=0, environment=config.environment(), template=template)
    finally:
        stack.LOCAL_MAX_CONCURRENCY = cap


def upload_audio(runtime: Any, folder: Path, recordings: Sequence[Recording]) -> list[dict[str, Any]]:
    s3 = runtime.client("s3")
    requests = []
    for rec in recordings:
        key = f"audio/{rec.file_name}"
        s3.put_object(Bucket=runtime.inbox_bucket, Key=key, Body=(folder / rec.file_name).read_bytes())
        requests.append({"RequestId": rec.request_id, "SpeakerId": rec.speaker_id,
                         "AudioSpecifications": [{"S3Uri": f"s3://{runtime.inbox_bucket}/{key}", "ChannelId": 0}]})
    return requests


def wait_final(runtime: Any, manifest_uri: str, timeout: float = 1800) -> Any:
    # boto3 and moto are imported only where the job runs: the measuring children stay lean.
    from speaker_enrollment.adapters.dynamodb import DynamoJobStore  # noqa: PLC0415

    jobs = DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = next((j for j in jobs.list(runtime.domain_id) if j.input_s3_uri == manifest_uri), None)
        if job is not None and job.status.is_final:
            return job
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"the job for {manifest_uri} did not finish within {timeout:.0f} s")


def read_output(runtime: Any, job: Any) -> dict[str, Any]:
    bucket, _, folder = job.output_s3_uri.removeprefix("s3://").partition("/")
    key = f"{folder.rstrip('/')}/{job.job_id}/{job.input_s3_uri.rsplit('/', 1)[-1]}.out".lstrip("/")
    return json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[no-any-return]


def output_check(output: dict[str, Any], recordings: Sequence[Recording]) -> tuple[dict[str, int], bool]:
    """Status counts (EnrollmentStatus or error code) and whether every RequestId is there exactly once."""
    entries = output.get("SuccessfulEnrollments", []) + output.get("Errors", [])
    statuses = Counter(str(e.get("EnrollmentStatus", e.get("ErrorCode"))) for e in entries)
    seen = Counter(e["RequestId"] for e in entries)
    once = set(seen) == {r.request_id for r in recordings} and set(seen.values()) == {1}
    return dict(statuses), once


def job_outcome(runtime: Any, job: Any, recordings: Sequence[Recording]) -> tuple[dict[str, int], bool]:
    if job.failure_details is not None:
        print(f"  the job FAILED: {job.failure_details.message}", file=sys.stderr)
        return {"job FAILED": len(recordings)}, False
    return output_check(read_output(runtime, job), recordings)


def run_job(folder: Path, recordings: Sequence[Recording], config: Config) -> JobRun:
    with start_runtime(config) as runtime:
        requests = upload_audio(runtime, folder, recordings)
        key = f"manifests/{runtime.domain_id}/bench-{len(requests)}.json"
        body = json.dumps({"Version": "1.0", "SpeakerEnrollmentRequests": requests}).encode()
        wall, cpu, busy = time.perf_counter(), cpu_seconds(), machine_busy_seconds()
        runtime.client("s3").put_object(Bucket=runtime.inbox_bucket, Key=key, Body=body)
        job = wait_final(runtime, f"s3://{runtime.inbox_bucket}/{key}")
        wall, cpu, busy = time.perf_counter() - wall, cpu_seconds() - cpu, machine_busy_seconds() - busy
        statuses, once = job_outcome(runtime, job, recordings)
        shard_size, threads = int(os.environ["SHARD_SIZE"]), os.environ.get("VOICEPRINT_THREADS", "0")
        concurrency = map_concurrency(runtime.definition)
    return JobRun(shard_size, threads, concurrency, len(recordings), wall, job.ended_at - job.created_at, cpu,
                  max(0.0, busy - cpu), job.status.value, statuses, once)


# ------------------------------------------------------------------------------------ reporting


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ratio(run: JobRun, compute: dict[str, Any]) -> float:
    return run.wall / (float(compute["seconds"]) / CORES)


def report_job(run: JobRun, single: dict[str, Any], parallel: dict[str, Any], double: dict[str, Any]) -> None:
    ideal = single["seconds"] / CORES
    print(f"\nJob: {run.requests} requests, SHARD_SIZE {run.shard_size}, VOICEPRINT_THREADS {run.threads}, "
          f"MaxConcurrency {run.max_concurrency}")
    print(f"  {'':52}{'seconds':>9}{'CPU s':>9}{'× ideal':>9}")
    rows = [
        ("job: manifest upload → final status", run.wall, f"{run.cpu:9.1f}"),
        ("job: CreatedAt → EndedAt (job record)", run.created_to_ended, " " * 9),
        ("compute: 1 process, BLAS 1 thread", single["seconds"], f"{single['cpu']:9.1f}"),
        (f"ideal = compute / {CORES} cores", ideal, " " * 9),
        (f"compute: {CORES} processes × BLAS 1 thread, side by side", parallel["seconds"], f"{parallel['cpu']:9.1f}"),
    ]
    for label, seconds, cpu in rows:
        print(f"  {label:52}{seconds:9.1f}{cpu}{seconds / ideal:9.2f}")
    verdict = "meets" if ratio(run, single) <= TARGET_RATIO else "misses"
    print(f"  ratio wall / (compute / cores) = {ratio(run, single):.2f} ({verdict} the target ≤ {TARGET_RATIO}); "
          f"CreatedAt → EndedAt {run.created_to_ended / ideal:.2f}; against {CORES} processes side by side "
          f"{run.wall / parallel['seconds']:.2f}")
    print(f"  job status {run.status}; output file: {run.statuses}; every RequestId exactly once: "
          f"{run.ids_exactly_once}")
    print(f"  other processes used {run.others_cpu:.1f} CPU s during the job (of {CORES * run.wall:.0f} available)")
    print(f"  net speech per request {single['net_min']:.1f}-{single['net_max']:.1f} s, "
          f"{single['net_total'] / 60:.1f} min in all")
    same = sum(single["shards"][: len(double["shards"])])
    print(f"  reference, first {double['files']} requests: BLAS 1 thread {same:.1f} s, BLAS {CORES} threads in one "
          f"process {double['seconds']:.1f} s (CPU {double['cpu']:.1f} s): speed-up {same / double['seconds']:.2f}×")


def report_rss(label: str, result: dict[str, Any]) -> None:
    verdict = "meets" if result["peak_rss_mb"] <= TARGET_RSS_MB else "misses"
    print(f"  {label:44} peak RSS {result['peak_rss_mb']:6.0f} MB (model loaded: {result['ready_rss_mb']:.0f} MB), "
          f"{result['seconds']:6.1f} s, {result['statuses']}; {verdict} ≤ {TARGET_RSS_MB} MB")


def report_sweep(runs: Sequence[JobRun], single: dict[str, Any]) -> None:
    print(f"\nConfigurations ({runs[0].requests} requests each; ideal {single['seconds'] / CORES:.1f} s; "
          "'others' = CPU s other processes used during the job):")
    print(f"  {'SHARD_SIZE':>10} {'THREADS':>8} {'MaxConc':>8} {'wall s':>7} {'CPU s':>7} {'others':>7} {'ratio':>6}  "
          "output file")
    for run in runs:
        ids = "" if run.ids_exactly_once else " (RequestIds NOT exactly once)"
        print(f"  {run.shard_size:>10} {run.threads:>8} {run.max_concurrency:>8} {run.wall:7.1f} {run.cpu:7.1f} "
              f"{run.others_cpu:7.1f} {ratio(run, single):6.2f}  {run.statuses}{ids}")


# ---------------------------------------------------------------------------------------- phases


def build_corpus(folder: Path, count: int) -> list[Recording]:
    recordings = corpus(count)
    audio_seconds = write_corpus(recordings, folder)
    size = sum((folder / r.file_name).stat().st_size for r in recordings) / MB
    print(f"Corpus: {count} WAVs, {audio_seconds / 60:.1f} min of 8 kHz speech ({size:.0f} MB); cores {CORES}; "
          f"load average {load_average()}")
    return recordings


def compute(folder: Path, threads: int, shard_size: int, stop: int) -> dict[str, Any]:
    return run_child("compute", str(folder), json.dumps([shard_size, 0, stop]), threads=threads)


def compute_in_parallel(folder: Path, shard_size: int, count: int) -> dict[str, Any]:
    """One BLAS-1-thread process per core, each on its share of whole shards, all at once."""
    shards = -(-count // shard_size)
    bounds = [round(shards * i / CORES) * shard_size for i in range(CORES + 1)]
    started = time.perf_counter()
    results = run_children([("compute", str(folder), json.dumps([shard_size, a, b]))
                            for a, b in itertools.pairwise(bounds)], threads=1)
    return {"seconds": time.perf_counter() - started, "cpu": sum(r["cpu"] for r in results),
            "slowest": max(r["seconds"] for r in results)}


def main_job(folder: Path, recordings: Sequence[Recording], config: Config) -> tuple[JobRun, dict[str, Any]]:
    run = run_job(folder, recordings, config)
    print(f"[job: {run.wall:.1f} s; load {load_average()}]", file=sys.stderr)
    single = compute(folder, 1, run.shard_size, len(recordings))
    parallel = compute_in_parallel(folder, run.shard_size, len(recordings))
    double = compute(folder, CORES, run.shard_size, REFERENCE_SHARDS * run.shard_size)
    report_job(run, single, parallel, double)
    return run, single


def main_memory(folder: Path, shard: Sequence[Recording]) -> None:
    print("\nPeak memory of one shard worker (fresh process, run_shard, BLAS 1 thread):")
    names = [[r.file_name] for r in shard]
    report_rss(f"{len(names)} requests (one shard)", run_child("shard", str(folder), json.dumps(names), threads=1))
    big = [[p.name for p in write_big_files(folder)]]
    report_rss(f"1 request, {BIG_FILES} files of {BIG_FILE_BYTES / 1e6:.0f} MB",
               run_child("shard", str(folder), json.dumps(big), threads=1))


def main_sweep(folder: Path, recordings: Sequence[Recording], single: dict[str, Any]) -> None:
    runs = []
    for shard_size, threads, concurrency in SWEEP:
        runs.append(run_job(folder, recordings, Config(shard_size, threads, concurrency)))
        print(f"[{runs[-1]}; load {load_average()}]", file=sys.stderr)
    report_sweep(runs, single)


def run_all(folder: Path, args: argparse.Namespace) -> None:
    recordings = build_corpus(folder, args.requests)
    if args.sweep_only:
        single = compute(folder, 1, DEFAULT_SHARD, len(recordings))
    else:
        run, single = main_job(folder, recordings, Config(args.shard_size, args.voiceprint_threads))
        if not args.skip_memory:
            main_memory(folder, recordings[: run.shard_size])
    if args.sweep or args.sweep_only:
        main_sweep(folder, recordings, single)


def child_main(args: argparse.Namespace) -> None:
    kind, folder, extra = args.child
    if kind == "compute":
        shard_size, start, stop = json.loads(extra)
        result = child_compute(Path(folder), args.threads, shard_size, start, stop)
    else:
        result = child_shard(Path(folder), json.loads(extra), args.threads)
    print(json.dumps(result))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.job", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--shard-size", type=int, help="SHARD_SIZE (default: the local runtime's)")
    parser.add_argument("--voiceprint-threads", type=int, help="VOICEPRINT_THREADS (default: the local runtime's)")
    parser.add_argument("--sweep", action="store_true", help="also run the job in every SWEEP configuration")
    parser.add_argument("--sweep-only", action="store_true")
    parser.add_argument("--skip-memory", action="store_true", help="skip the peak-RSS measurements")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.child:
        child_main(args)
        return 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-job-") as tmp:
        run_all(Path(tmp), args)
    print(f"\nBench took {time.perf_counter() - started:.0f} s; load average now {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
