"""Calibrate the cosine → 0–100 score mapping (``scoring.py``) on real 8 kHz telephone speech.

Run: ``.venv/bin/python -m bench.calibrate`` (needs the Asterisk prompts: ``make speech``).

Per voice, part 0 of ``samples.recording`` gives the 30 s enrolment pieces, part 1 the 30 s test
pieces and part 2 the 10 s test pieces (also sent through GSM 6.10), so enrolment and test never
share a prompt. Same-voice pairs are target trials, pairs of different people non-target trials;
allison-en against allison-es (one person, two languages) is reported on its own as cross-language.
Every piece gets one voiceprint, computed once, batched per voice.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soundfile
from enrollctl import samples
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.scoring import EQUAL_ERROR_COSINE, score

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ENROL_PIECES = 3  # 30 s each, part 0
TEST30_PIECES = 4  # 30 s each, part 1
TEST10_PIECES = 12  # 10 s each, part 2
CONDITIONS = (
    ("30 s enrol vs 30 s test", "test30"),
    ("30 s enrol vs 10 s test", "test10"),
    ("30 s enrol vs 10 s GSM 6.10", "gsm10"),
)
WATCHLIST_THRESHOLDS = (40, 50, 60, 70, 80)


@dataclass(frozen=True)
class Prints:
    """Voiceprints of one kind of piece: the voice key of each row and the vectors."""

    voices: npt.NDArray[np.str_]
    vectors: FloatArray
    net_speech: float  # mean net speech seconds per piece


@dataclass(frozen=True)
class Trials:
    target: FloatArray  # cosines, same voice key
    nontarget: FloatArray  # cosines, different people
    cross_language: FloatArray  # cosines, same person, other language


@dataclass(frozen=True)
class Rates:
    eer: float
    eer_cosine: float
    false_accept: float  # at score >= 50 with EQUAL_ERROR_COSINE
    false_reject: float


# ----------------------------------------------------------------------------------- voiceprints


def slices(key: str, part: int, seconds: int, count: int) -> list[npt.NDArray[np.float32]]:
    """`count` non-overlapping `seconds`-long pieces of one part of a voice."""
    recording = samples.recording(key, float(seconds * count), part)
    size = seconds * samples.RATE
    return [recording[i * size : (i + 1) * size] for i in range(count)]


def gsm_round_trip(piece: npt.NDArray[np.float32]) -> bytes:
    """The piece encoded to a GSM 6.10 WAV and decoded again, as a PCM16 WAV (lossless after GSM).

    Decoded here rather than by the engine: libsndfile reports GSM WAVs as not seekable, and
    ``audio.decode``'s ``SoundFile.read()`` without a frame count then raises ValueError.
    """
    decoded, _ = soundfile.read(io.BytesIO(samples.wav_bytes(piece, subtype="GSM610")), dtype="float32")
    return samples.wav_bytes(decoded)


def piece_files(key: str) -> dict[str, list[bytes]]:
    tens = slices(key, 2, 10, TEST10_PIECES)
    return {
        "enrol30": [samples.wav_bytes(p) for p in slices(key, 0, 30, ENROL_PIECES)],
        "test30": [samples.wav_bytes(p) for p in slices(key, 1, 30, TEST30_PIECES)],
        "test10": [samples.wav_bytes(p) for p in tens],
        "gsm10": [gsm_round_trip(p) for p in tens],
    }


def voice_prints(engine: VoiceprintEngine, key: str) -> dict[str, tuple[FloatArray, list[float]]]:
    """Every piece of one voice in a single batched engine call."""
    files = piece_files(key)
    requests = [[engine.speech(data, f"{key}/{kind}/{i}")] for kind, datas in files.items()
                for i, data in enumerate(datas)]
    prints = iter(engine.voiceprints(requests))
    result = {}
    for kind, datas in files.items():
        chosen = [next(prints) for _ in datas]
        result[kind] = (np.stack([p.vector for p in chosen]).astype(np.float64),
                        [p.net_speech_seconds for p in chosen])
    return result


def all_prints(engine: VoiceprintEngine) -> dict[str, Prints]:
    per_voice = {key: voice_prints(engine, key) for key in samples.VOICES}
    kinds = next(iter(per_voice.values())).keys()
    return {
        kind: Prints(
            voices=np.array([key for key, prints in per_voice.items() for _ in prints[kind][1]]),
            vectors=np.concatenate([prints[kind][0] for prints in per_voice.values()]),
            net_speech=float(np.mean([s for prints in per_voice.values() for s in prints[kind][1]])),
        )
        for kind in kinds
    }


# --------------------------------------------------------------------------------------- metrics


def person_of(voices: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    return np.array([samples.VOICES[str(v)].person for v in voices])


def trials(enrol: Prints, test: Prints) -> Trials:
    cosines = enrol.vectors @ test.vectors.T
    same_voice: BoolArray = enrol.voices[:, None] == test.voices[None, :]
    same_person: BoolArray = person_of(enrol.voices)[:, None] == person_of(test.voices)[None, :]
    return Trials(cosines[same_voice], cosines[~same_person], cosines[same_person & ~same_voice])


def pooled(parts: Sequence[Trials]) -> Trials:
    return Trials(*(np.concatenate([getattr(t, f) for t in parts])
                    for f in ("target", "nontarget", "cross_language")))


def equal_error(target: FloatArray, nontarget: FloatArray) -> tuple[float, float]:
    """(EER, cosine at the EER); accept when cosine >= threshold.

    The cosine is the midpoint between the last rejected and the first accepted trial there.
    """
    thresholds = np.sort(np.concatenate([target, nontarget]))
    false_accept = 1.0 - np.searchsorted(np.sort(nontarget), thresholds, side="left") / nontarget.size
    false_reject = np.searchsorted(np.sort(target), thresholds, side="left") / target.size
    best = int(np.argmin(np.abs(false_accept - false_reject)))
    below = thresholds[max(best - 1, 0)]
    return float((false_accept[best] + false_reject[best]) / 2), float((below + thresholds[best]) / 2)


def scores(cosines: FloatArray) -> npt.NDArray[np.int64]:
    return np.array([score(float(c)) for c in cosines], dtype=np.int64)


def rates(t: Trials, threshold: int = 50) -> Rates:
    eer, eer_cosine = equal_error(t.target, t.nontarget)
    return Rates(
        eer, eer_cosine,
        false_accept=float(np.mean(scores(t.nontarget) >= threshold)),
        false_reject=float(np.mean(scores(t.target) < threshold)),
    )


# ------------------------------------------------------------------------------------- watchlist


def watchlist_risks(enrol: Prints, callers: Prints) -> tuple[FloatArray, FloatArray]:
    """Risk (highest score against the watchlist) of innocent callers and of listed fraudsters.

    Each watchlist holds one 30 s enrolment per voice (rotating over the enrolment pieces). An
    innocent caller's watchlist holds everybody but the caller's person; a fraudster's holds the
    same plus the caller's own voice.
    """
    keys = list(samples.VOICES)
    caller_person = person_of(callers.voices)
    innocent, fraudster = [], []
    for variant in range(ENROL_PIECES):
        rows = [np.flatnonzero(enrol.voices == key)[variant] for key in keys]
        risk = scores((callers.vectors @ enrol.vectors[rows].T).ravel()).reshape(len(callers.voices), -1)
        others = caller_person[:, None] != person_of(np.array(keys))[None, :]
        own = callers.voices[:, None] == np.array(keys)[None, :]
        innocent.append(np.where(others, risk, -1).max(axis=1))
        fraudster.append(np.where(others | own, risk, -1).max(axis=1))
    return np.concatenate(innocent).astype(float), np.concatenate(fraudster).astype(float)


def report_watchlist(enrol: Prints, callers: Prints) -> None:
    innocent, fraudster = watchlist_risks(enrol, callers)
    print(f"\nFraud watchlist (10 s callers, clean + GSM; {innocent.size} innocent and "
          f"{fraudster.size} fraudster calls against 6-7 enrolled fraudsters; risk = highest score)")
    print(f"  {'RiskThreshold':>13}  {'false alarm':>11}  {'miss':>6}")
    table = []
    for threshold in WATCHLIST_THRESHOLDS:
        alarm, miss = float(np.mean(innocent >= threshold)), float(np.mean(fraudster < threshold))
        table.append((alarm + miss, -threshold, threshold, alarm, miss))
        print(f"  {threshold:>13}  {alarm:>11.1%}  {miss:>6.1%}")
    _, _, threshold, alarm, miss = min(table)
    print(f"  recommended default RiskThreshold: {threshold} (lowest false alarm + miss): "
          f"false alarm {alarm:.1%}, miss {miss:.1%}")


# ---------------------------------------------------------------------------------------- report


def report_conditions(prints: dict[str, Prints]) -> dict[str, Rates]:
    print(f"\nVerification (score >= 50 accepts; EQUAL_ERROR_COSINE = {EQUAL_ERROR_COSINE})")
    print(f"  {'condition':<28} {'target':>6} {'non-tgt':>7} {'EER':>6} {'cos@EER':>7} "
          f"{'FA@50':>6} {'FR@50':>6} | {'x-lang':>6} {'EER':>6} {'cos@EER':>7} {'FR@50':>6}")
    measured, results = [], {}
    for name, kind in (*CONDITIONS, ("pooled", "")):
        t = trials(prints["enrol30"], prints[kind]) if kind else pooled(measured)
        measured.append(t)
        r, x = rates(t), rates(Trials(t.cross_language, t.nontarget, t.cross_language))
        results[name] = r
        print(f"  {name:<28} {t.target.size:>6} {t.nontarget.size:>7} {r.eer:>6.1%} {r.eer_cosine:>7.3f} "
              f"{r.false_accept:>6.1%} {r.false_reject:>6.1%} | {t.cross_language.size:>6} {x.eer:>6.1%} "
              f"{x.eer_cosine:>7.3f} {x.false_reject:>6.1%}")
    return results


def report_distributions(prints: dict[str, Prints]) -> None:
    print("\nScores with the current mapping (percentiles 5 / 50 / 95)")
    for name, kind in CONDITIONS:
        t = trials(prints["enrol30"], prints[kind])
        groups = (("target", t.target), ("non-target", t.nontarget), ("cross-lang", t.cross_language))
        for label, cos in groups:
            p = np.percentile(scores(cos), [5, 50, 95]).astype(int)
            c = np.percentile(cos, [5, 50, 95])
            print(f"  {name:<28} {label:<10} score {p[0]:>3} {p[1]:>3} {p[2]:>3}   "
                  f"cosine {c[0]:.3f} {c[1]:.3f} {c[2]:.3f}")


def main() -> None:
    started = time.perf_counter()
    prints = all_prints(VoiceprintEngine())
    net = ", ".join(f"{kind} {p.net_speech:.1f} s" for kind, p in prints.items())
    print(f"{len(samples.VOICES)} voices, {len({v.person for v in samples.VOICES.values()})} people; "
          f"{sum(p.voices.size for p in prints.values())} voiceprints in "
          f"{time.perf_counter() - started:.0f} s; mean net speech per piece: {net}")
    results = report_conditions(prints)
    report_distributions(prints)
    callers = Prints(np.concatenate([prints["test10"].voices, prints["gsm10"].voices]),
                     np.concatenate([prints["test10"].vectors, prints["gsm10"].vectors]), 0.0)
    report_watchlist(prints["enrol30"], callers)
    realistic, pool = results["30 s enrol vs 10 s test"], results["pooled"]
    print(f"\nEqual-error cosine: 30 s vs 10 s {realistic.eer_cosine:.3f} (EER {realistic.eer:.1%}), "
          f"pooled {pool.eer_cosine:.3f} (EER {pool.eer:.1%}); scoring.py has {EQUAL_ERROR_COSINE}")
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
