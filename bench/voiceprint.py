"""Voiceprint benchmark (issue #2): our NumPy GE2E engine against resemblyzer on torch, same audio.

Run: ``make bench`` (``python -m bench.voiceprint`` inside ``.venv-bench``; needs ``make speech``).

The parent process pins itself to one CPU, then measures everything in fresh child processes (which
inherit the pinning from their first instruction, and run without OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE); it only orchestrates and prints. torch and resemblyzer are imported only where
the reference runs, so our memory and cold-start figures never carry them.

Recordings are real 8 kHz speech (``enrollctl.samples``): one recording of each of the 8 voices per
batch, part 0 for the 30 s batch and part 1 for the 60 s batch, so the two batches say other words.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
import soundfile
from enrollctl import samples
from speaker_enrollment.voiceprint import audio
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.features import mel_windows, window_starts
from speaker_enrollment.voiceprint.model import MODEL_ARTIFACT
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
WHEEL_CACHE = ROOT / "build" / "bench"
MB = 2**20

BATCHES = {"8 × 30 s": (30, 0), "8 × 60 s": (60, 1)}  # seconds per recording, samples part
STAGE_BATCH = "8 × 60 s"
ROUNDS = 5
SWEEP = (128, 256, 512, 1024)
SWEEP_ROUNDS = 3
STAGE_ROUNDS = 3
LONG_VOICE, LONG_SECONDS = "allison-en", 600
LONG_CASE = f"1 × {LONG_SECONDS // 60} min"
COLD_START_RUNS = 5
STAGES = ("decode WAV", "resample+level+VAD", "mel windows", "LSTM+linear")
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
LAMBDA_PLATFORMS = {  # numpy 2.3+ has no manylinux2014 aarch64 wheel; Lambda's AL2023 has glibc 2.34
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}
NOT_COUNTED = ("aws-lambda-powertools",)  # in requirements.txt, but not needed by the voiceprint code
TARGET_RATIO, TARGET_DISTANCE, TARGET_RSS_MB, TARGET_SIZE_MB, TARGET_COLD_S = 1.0, 1e-5, 300, 170, 0.3
COLD_START = (
    "import time; start, cpu = time.perf_counter(), time.process_time(); "
    "from speaker_enrollment.voiceprint.engine import VoiceprintEngine; VoiceprintEngine(); "
    "print(time.perf_counter() - start, time.process_time() - cpu)"
)

Files = list[tuple[str, bytes]]
Vectors = npt.NDArray[np.float64]
Runner = Callable[[Files], Vectors]
T = TypeVar("T")


# ------------------------------------------------------------------------------------ recordings


def batch(seconds: int, part: int) -> Files:
    """One WAV recording of every voice in ``samples.VOICES`` (8 voices of 7 real people)."""
    return [
        (f"{key}/{part}", samples.wav_bytes(samples.recording(key, seconds, part))) for key in samples.VOICES
    ]


def long_recording() -> bytes:
    """LONG_SECONDS of one speaker: two disjoint parts back to back (no single part is that long)."""
    half = LONG_SECONDS / 2
    return samples.wav_bytes(np.concatenate([samples.recording(LONG_VOICE, half, p) for p in (0, 1)]))


# ------------------------------------------------------------------------------------- pipelines


def ours(engine: VoiceprintEngine, files: Files) -> Vectors:
    """Our pipeline: ``engine.speech`` per file, then one ``voiceprints`` call for the whole batch."""
    speeches = [[engine.speech(data, name)] for name, data in files]
    return np.stack([p.vector for p in engine.voiceprints(speeches)]).astype(np.float64)


def decode_wav(data: bytes) -> npt.NDArray[np.float32]:
    wav, _ = soundfile.read(io.BytesIO(data), dtype="float32")
    return np.asarray(wav, dtype=np.float32)


@dataclass(frozen=True)
class Reference:
    """resemblyzer 0.1.4 on torch (both imported on demand by ``load_reference``)."""

    torch: types.ModuleType
    resemblyzer: types.ModuleType
    encoder: Any  # resemblyzer.VoiceEncoder

    def preprocess(self, wav: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(self.resemblyzer.preprocess_wav(wav, source_sr=samples.RATE))

    def partial_mels(self, wav: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The (partials, 160, 40) mels ``embed_utterance`` feeds the LSTM (its defaults)."""
        wav_slices, mel_slices = self.encoder.compute_partial_slices(len(wav), 1.3, 0.75)
        wav = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
        mel = self.resemblyzer.wav_to_mel_spectrogram(wav)
        return np.array([mel[s] for s in mel_slices])

    def forward(self, mels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        with self.torch.no_grad():
            return np.asarray(self.encoder(self.torch.from_numpy(mels)).numpy())


def reference(ref: Reference, files: Files) -> Vectors:
    """resemblyzer's own pipeline per recording: ``embed_utterance(preprocess_wav(wav, 8000))``."""
    vectors = [ref.encoder.embed_utterance(ref.preprocess(decode_wav(data))) for _, data in files]
    return np.stack(vectors).astype(np.float64)


def shim_scipy_morphology() -> None:
    """resemblyzer imports ``scipy.ndimage.morphology``, a path newer SciPy releases drop."""
    try:
        importlib.import_module("scipy.ndimage.morphology")
    except ImportError:
        ndimage = importlib.import_module("scipy.ndimage")
        shim = types.ModuleType("scipy.ndimage.morphology")
        shim.binary_dilation = ndimage.binary_dilation  # type: ignore[attr-defined]
        sys.modules[shim.__name__] = shim


def load_reference() -> Reference:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.ndimage.morphology
        shim_scipy_morphology()
        torch = importlib.import_module("torch")
        torch.set_num_threads(1)
        resemblyzer = importlib.import_module("resemblyzer")
    return Reference(torch, resemblyzer, resemblyzer.VoiceEncoder("cpu", verbose=False))


def cosine_distances(a: Vectors, b: Vectors) -> Vectors:
    """1 − cos per row, in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    distances: Vectors = 1.0 - np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return distances


# ------------------------------------------------------------------------------------ measuring


class Took(NamedTuple):
    cpu: float  # CPU seconds of this process: immune to other work on the machine
    wall: float


def timed(fn: Callable[[], T]) -> tuple[T, Took]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, Took(time.process_time() - cpu, time.perf_counter() - wall)


def pin_to_one_cpu() -> int:
    """Pin this process (and every child started after) to the highest-numbered allowed CPU."""
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def rounds(
    runners: dict[str, Runner], files: Files, count: int
) -> tuple[dict[str, Took], dict[str, Vectors]]:
    """Median CPU and wall seconds of each runner over `count` rounds (alternating who goes first),
    and each runner's last outputs."""
    took: dict[str, list[Took]] = {name: [] for name in runners}
    outputs: dict[str, Vectors] = {}
    for number in range(count):
        for name in list(runners)[:: 1 if number % 2 == 0 else -1]:
            outputs[name], elapsed = timed(partial(runners[name], files))
            took[name].append(elapsed)
    medians = {name: Took(*map(statistics.median, zip(*runs, strict=True))) for name, runs in took.items()}
    return medians, outputs


def median_stages(measure: Callable[[], dict[str, float]], count: int) -> dict[str, float]:
    runs = [measure() for _ in range(count)]
    return {stage: statistics.median(run[stage] for run in runs) for stage in runs[0]}


def embed_in_batches(engine: VoiceprintEngine, windows: npt.NDArray[np.float32]) -> None:
    size = engine.batch_windows
    for start in range(0, windows.shape[0], size):
        engine.encoder.embed_windows(windows[start : start + size])


def ours_stages(engine: VoiceprintEngine, files: Files) -> dict[str, float]:
    decoded, decoding = timed(lambda: [audio.decode(data, name) for name, data in files])
    speeches, trimming = timed(lambda: [audio.extract_speech(d, engine.detector) for d in decoded])
    windows, framing = timed(lambda: np.concatenate([mel_windows(s.samples) for s in speeches]))
    _, encoding = timed(lambda: embed_in_batches(engine, windows))
    return {stage: took.cpu for stage, took in zip(STAGES, (decoding, trimming, framing, encoding), strict=True)}


def reference_stages(ref: Reference, files: Files) -> dict[str, float]:
    wavs, decoding = timed(lambda: [decode_wav(data) for _, data in files])
    trimmed, trimming = timed(lambda: [ref.preprocess(w) for w in wavs])
    mels, framing = timed(lambda: [ref.partial_mels(w) for w in trimmed])
    _, encoding = timed(lambda: [ref.forward(m) for m in mels])
    return {stage: took.cpu for stage, took in zip(STAGES, (decoding, trimming, framing, encoding), strict=True)}


def window_count(engine: VoiceprintEngine, files: Files) -> int:
    return sum(len(window_starts(engine.speech(data, name).samples.size)) for name, data in files)


def blas_facts() -> list[dict[str, Any]]:
    """The thread pools loaded in this process, named by the package that ships each library."""
    return [
        {
            "package": (re.findall(r"site-packages/([^/.]+)", pool["filepath"]) or ["?"])[0],
            **{key: pool.get(key) for key in ("internal_api", "version", "architecture", "num_threads")},
        }
        for pool in threadpool_info()
    ]


def max_rss_mb() -> float:
    """This process image's RSS high-water mark.

    VmHWM, not getrusage's ru_maxrss: on Linux a child's ru_maxrss starts at the RSS of the parent
    that forked it (the high-water of the pre-exec memory map is kept), which here is the benchmark's
    own parent. ru_maxrss is the fallback where /proc is missing.
    """
    status = Path("/proc/self/status")
    if status.exists():
        kilobytes = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        if kilobytes:
            return int(kilobytes.group(1)) * 1024 / MB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


# ---------------------------------------------------------------------------------- child: speed


def throughput_and_agreement(runners: dict[str, Runner], batches: dict[str, Files]) -> dict[str, Any]:
    result = {}
    for label, files in batches.items():
        took, outputs = rounds(runners, files, ROUNDS)
        distances = cosine_distances(outputs["ours"], outputs["reference"])
        seconds = {name: t._asdict() for name, t in took.items()}
        result[label] = {"seconds": seconds, "files": len(files), "max_distance": float(distances.max())}
    return result


def batch_window_sweep(engine: VoiceprintEngine, batches: dict[str, Files]) -> dict[str, dict[str, float]]:
    sweep = {}
    for size in SWEEP:
        sized = VoiceprintEngine(engine.encoder, batch_windows=size, threads=1)
        sweep[str(size)] = {
            label: rounds({"ours": partial(ours, sized)}, files, SWEEP_ROUNDS)[0]["ours"].cpu
            for label, files in batches.items()
        }
    return sweep


def speed() -> dict[str, Any]:
    """Everything timed on one core, ours and the reference in the same process on the same audio."""
    pin_to_one_cpu()
    threadpool_limits(limits=1)
    ref, engine = load_reference(), VoiceprintEngine(threads=1)
    runners: dict[str, Runner] = {"ours": partial(ours, engine), "reference": partial(reference, ref)}
    batches = {label: batch(*spec) for label, spec in BATCHES.items()}
    for runner in runners.values():  # warm-up
        runner(batches[next(iter(batches))])
    return {
        "blas": blas_facts(),
        "torch": f"{ref.torch.__version__}, torch.get_num_threads() = {ref.torch.get_num_threads()}",
        "windows": {label: window_count(engine, files) for label, files in batches.items()},
        "batches": throughput_and_agreement(runners, batches),
        "stages": {
            "ours": median_stages(partial(ours_stages, engine, batches[STAGE_BATCH]), STAGE_ROUNDS),
            "reference": median_stages(partial(reference_stages, ref, batches[STAGE_BATCH]), STAGE_ROUNDS),
        },
        "sweep": batch_window_sweep(engine, batches),
    }


# --------------------------------------------------------------------------------- child: memory


def memory(side: str, paths: Sequence[str]) -> dict[str, Any]:
    """High-water RSS of making one voiceprint per file, after and before loading the files."""
    pin_to_one_cpu()
    threadpool_limits(limits=1)
    if side == "ours":
        runner: Runner = partial(ours, VoiceprintEngine(threads=1))
    else:
        runner = partial(reference, load_reference())
    loaded = max_rss_mb()
    vectors = runner([(path, Path(path).read_bytes()) for path in paths])
    return {"loaded_mb": loaded, "peak_mb": max_rss_mb(), "vectors": vectors.tolist()}


# ----------------------------------------------------------------------------------------- parent


def child_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in BLAS_OVERRIDES}


def run_child(*args: str) -> dict[str, Any]:
    """Run ``python -m bench.voiceprint ARGS`` afresh; its last stdout line is its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.voiceprint", *args],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True, check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def report_machine(cpu: int) -> None:
    overrides = {key: os.environ[key] for key in BLAS_OVERRIDES if key in os.environ}
    load = os.getloadavg()[0]
    print("Voiceprint benchmark (issue #2): ours = NumPy GE2E engine, reference = resemblyzer 0.1.4 on torch")
    print(f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}; measured in child processes pinned to CPU {cpu}")
    busy = " (other work is running: figures may be noisy)" if load > 0.5 else ""
    print(f"Load average at start: {load:.2f}{busy}")
    if overrides:
        print(f"Removed from the measuring processes' environment: {overrides}")
    else:
        print(f"{' / '.join(BLAS_OVERRIDES)}: not set")


def report_blas(facts: list[dict[str, Any]], torch_version: str) -> None:
    print(f"Thread pools in the timing process (torch {torch_version}; threadpoolctl limits 1):")
    for f in facts:
        warning = "  WARNING: more than one thread" if (f["num_threads"] or 1) > 1 else ""
        print(f"  {f['package']:<8} {f['internal_api']:<9} {f['version'] or '':<8} "
              f"kernel {f['architecture'] or '-':<10} threads {f['num_threads']}{warning}")


def report_throughput(speed_result: dict[str, Any]) -> None:
    print(f"\n1. Throughput on one core, WAV bytes -> voiceprint, voiceprints/s (median of {ROUNDS} rounds "
          "after warm-up)\n   per CPU-second of the pinned process (immune to other work on the machine), "
          "then per wall-clock second")
    print(f"   {'batch':<10} {'windows':>7} {'ours':>7} {'resemblyzer':>11} {'ours/ref':>8}  {'target':<16}"
          f"| {'wall: ours':>10} {'resemblyzer':>11} {'ours/ref':>8}")
    for label, b in speed_result["batches"].items():
        cpu = [b["files"] / b["seconds"][side]["cpu"] for side in ("ours", "reference")]
        wall = [b["files"] / b["seconds"][side]["wall"] for side in ("ours", "reference")]
        met = f">= {TARGET_RATIO} {verdict(cpu[0] / cpu[1] >= TARGET_RATIO)}"
        print(f"   {label:<10} {speed_result['windows'][label]:>7} {cpu[0]:>7.2f} {cpu[1]:>11.2f} "
              f"{cpu[0] / cpu[1]:>8.2f}  {met:<16}| {wall[0]:>10.2f} {wall[1]:>11.2f} {wall[0] / wall[1]:>8.2f}")
    report_stages(speed_result["stages"])
    report_sweep(speed_result)


def report_stages(stages: dict[str, dict[str, float]]) -> None:
    print(f"   Where the time goes, {STAGE_BATCH} batch, CPU seconds per batch (median of {STAGE_ROUNDS}):")
    print(f"   {'stage':<20} {'ours':>7} {'resemblyzer':>11}")
    for stage in (*STAGES, "total"):
        values = [sum(s.values()) if stage == "total" else s[stage] for s in stages.values()]
        print(f"   {stage:<20} {values[0]:>7.3f} {values[1]:>11.3f}")


def report_sweep(speed_result: dict[str, Any]) -> None:
    default = inspect.signature(VoiceprintEngine).parameters["batch_windows"].default
    labels = list(speed_result["windows"])
    print(f"   batch_windows sweep, ours, voiceprints per CPU-second (median of {SWEEP_ROUNDS}; "
          f"one LSTM batch when batch_windows >= the batch's windows):")
    print(f"   {'batch_windows':<13} " + " ".join(f"{label:>9}" for label in labels))
    for size, seconds in speed_result["sweep"].items():
        rates = " ".join(f"{len(samples.VOICES) / seconds[label]:>9.2f}" for label in labels)
        mark = "  (current default)" if int(size) == default else ""
        print(f"   {size:<13} {rates}{mark}")


def report_agreement(speed_result: dict[str, Any], long_distance: float | None) -> None:
    print("\n2. Agreement with resemblyzer, 1 - cos(ours, reference) in float64")
    distances = {label: b["max_distance"] for label, b in speed_result["batches"].items()}
    if long_distance is not None:
        distances[LONG_CASE] = long_distance
    for label, distance in distances.items():
        print(f"   {label:<10} max {distance:.2e}")
    worst = max(distances.values())
    met = verdict(worst <= TARGET_DISTANCE)
    print(f"   overall    max {worst:.2e}  target <= {TARGET_DISTANCE:.0e} {met}")


def measure_memory(directory: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """case -> side -> child result, each in a fresh process."""
    long_path = directory / "long.wav"
    long_path.write_bytes(long_recording())
    short_paths = []
    for name, data in batch(*BATCHES["8 × 30 s"]):
        short_paths.append(directory / f"{name.replace('/', '-')}.wav")
        short_paths[-1].write_bytes(data)
    cases = {LONG_CASE: [long_path], "8 × 30 s": short_paths}
    return {
        case: {side: run_child("memory", side, *map(str, paths)) for side in ("ours", "reference")}
        for case, paths in cases.items()
    }


def report_memory(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    print("\n3. Peak memory (RSS high-water, VmHWM) of a fresh pinned process, MB "
          "(loaded = after imports + model load)")
    print(f"   {'case':<10} {'ours loaded':>11} {'ours peak':>9} {'ref loaded':>10} {'ref peak':>8}  target")
    for case, sides in results.items():
        ours_peak = sides["ours"]["peak_mb"]
        target = f"ours < {TARGET_RSS_MB} {verdict(ours_peak < TARGET_RSS_MB)}" if case == LONG_CASE else ""
        print(f"   {case:<10} {sides['ours']['loaded_mb']:>11.0f} {ours_peak:>9.0f} "
              f"{sides['reference']['loaded_mb']:>10.0f} {sides['reference']['peak_mb']:>8.0f}  {target}")


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def dist_bytes(target: Path) -> dict[str, int]:
    """Bytes installed by each distribution in a ``pip --target`` directory, from its RECORD."""
    sizes = {}
    for record in sorted(target.glob("*.dist-info/RECORD")):
        name = record.parent.name.removesuffix(".dist-info").replace("-", " ", 1)
        paths = [target / row[0] for row in csv.reader(record.read_text().splitlines()) if row]
        sizes[name] = sum(p.stat().st_size for p in paths if p.is_file())
    return sizes


def runtime_requirements() -> tuple[list[str], list[str]]:
    """requirements.txt pins split into (needed by the voiceprint code, not counted)."""
    lines = (line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines())
    pins = [line for line in lines if line]
    skipped = [pin for pin in pins if pin.startswith(NOT_COUNTED)]
    return [pin for pin in pins if pin not in skipped], skipped


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, check=False)


def lambda_install(arch: str, pins: list[str], target: Path) -> str | None:
    """Install the Lambda's wheels (python3.12, `arch`) into target; the error text when pip fails.

    Offline from the wheel cache under build/ first; on a miss, download into it and retry.
    """
    wheels = WHEEL_CACHE / f"wheels-{arch}"
    tags = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp"]
    tags += [arg for platform_tag in LAMBDA_PLATFORMS[arch] for arg in ("--platform", platform_tag)]
    install = ("install", "--no-index", "--find-links", str(wheels), "--no-compile", "--target", str(target))
    if pip(*install, *tags, *pins).returncode == 0:
        return None
    fetched = pip("download", "--dest", str(wheels), *tags, *pins)
    if fetched.returncode != 0:
        return (fetched.stderr.strip().splitlines() or ["pip download failed"])[-1]
    installed = pip(*install, *tags, *pins)
    return None if installed.returncode == 0 else installed.stderr.strip().splitlines()[-1]


def first_lambda_install(pins: list[str], directory: Path) -> str | None:
    """The first architecture whose wheels install into directory/ARCH, reporting the ones that fail."""
    for arch in LAMBDA_PLATFORMS:
        failure = lambda_install(arch, pins, directory / arch)
        if failure is None:
            return arch
        print(f"   {arch}: pip could not install the wheels ({failure})")
    return None


def report_lambda_size(directory: Path) -> None:
    needed, skipped = runtime_requirements()
    code = tree_bytes(ROOT / "lambdas" / "speaker_enrollment") / MB
    model = MODEL_ARTIFACT.stat().st_size / MB
    print("\n4. Lambda package, unzipped MB (python3.12 wheels via pip --target, no .pyc)")
    arch = first_lambda_install(needed, directory)
    if arch is None:
        print(f"   lambdas/speaker_enrollment alone: {code:.1f} (model {model:.1f})")
        return
    for name, size in sorted(dist_bytes(directory / arch).items(), key=lambda item: -item[1]):
        print(f"   {name:<34} {size / MB:>6.1f}")
    total = tree_bytes(directory / arch) / MB + code
    print(f"   {'lambdas/speaker_enrollment':<34} {code:>6.1f}  (model {model:.1f})")
    met = verdict(total <= TARGET_SIZE_MB)
    print(f"   {'total, ' + arch:<34} {total:>6.1f}  target <= {TARGET_SIZE_MB} {met}")
    report_not_counted(arch, skipped, directory / f"{arch}-not-counted")


def report_not_counted(arch: str, pins: list[str], target: Path) -> None:
    if not pins:
        return
    failure = lambda_install(arch, pins, target)
    size = "not installed: " + failure if failure else f"{tree_bytes(target) / MB:.1f}"
    print(f"   not counted: {' '.join(pins)} with its dependencies: {size}")


def cold_start() -> tuple[Took, float]:
    """Medians of import + model load inside the process, and of the whole process's wall time."""
    inside, whole = [], []
    for _ in range(COLD_START_RUNS):
        done, elapsed = timed(partial(subprocess.run, [sys.executable, "-c", COLD_START], cwd=ROOT,
                                      env=child_env(), capture_output=True, text=True, check=True))
        wall, cpu = map(float, done.stdout.split())
        inside.append(Took(cpu, wall))
        whole.append(elapsed.wall)
    return Took(*map(statistics.median, zip(*inside, strict=True))), statistics.median(whole)


def report_cold_start() -> None:
    inside, whole = cold_start()
    print(f"\n5. Cold start, fresh pinned python -c, median of {COLD_START_RUNS}")
    print(f"   import engine + VoiceprintEngine(): {inside.wall:.3f} s  target <= {TARGET_COLD_S} "
          f"{verdict(inside.wall <= TARGET_COLD_S)}  (CPU {inside.cpu:.3f} s; whole process incl. "
          f"interpreter start {whole:.3f} s)")


def report() -> None:
    started = time.perf_counter()
    report_machine(pin_to_one_cpu())
    progress("timing ours and resemblyzer on one core (about 3 minutes)")
    speed_result = run_child("speed")
    report_blas(speed_result["blas"], speed_result["torch"])
    report_throughput(speed_result)
    with tempfile.TemporaryDirectory(prefix="bench-voiceprint-") as scratch:
        progress("peak memory in fresh processes")
        memory_result = measure_memory(Path(scratch))
        long_sides = next(iter(memory_result.values()))
        long_distance = float(cosine_distances(np.array(long_sides["ours"]["vectors"]),
                                               np.array(long_sides["reference"]["vectors"])).max())
        report_agreement(speed_result, long_distance)
        report_memory(memory_result)
        progress("Lambda package size")
        report_lambda_size(Path(scratch))
    report_cold_start()
    print(f"\nBenchmark took {time.perf_counter() - started:.0f} s")


def main() -> None:
    mode, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("report", [])
    if mode == "speed":
        print(json.dumps(speed()))
    elif mode == "memory":
        print(json.dumps(memory(args[0], args[1:])))
    else:
        report()


if __name__ == "__main__":
    main()
