"""Calibrate the cosine → 0–100 score map (``scoring.py``) on real 8 kHz telephone speech.

Run: ``.venv/bin/python -m bench.calibrate`` (needs the Asterisk prompts: ``make speech``).

Authentication as Voice ID used it: an enrolment from 30 s of speech (as jobs enroll; also two 30 s
enrolments pooled into one voiceprint) against test calls of 10 s and 15 s, clean and through GSM 6.10.
Per voice, part 0 of ``samples.recording`` gives the 30 s enrolment pieces, part 1 the 30 s test pieces,
part 2 the 10 s calls and part 3 the 15 s calls, so enrolment and test never share a prompt. Same-voice
pairs are genuine trials, pairs of different people impostor trials; allison-en against allison-es (one
person, two languages) is reported on its own as cross-language. Every piece gets one voiceprint, computed
once, batched per voice.

The run measures the anchors of the map (the cosines that should score 0, 50 and 90), prints the
authentication table (AcceptanceThreshold → false accept, false reject) and the fraud watchlist table
(RiskThreshold → false alarm, miss) with the map ``scoring.py`` ships, and compares its constants with
the measured anchors.
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
from speaker_enrollment.voiceprint.scoring import (
    ACCEPTANCE_COSINE,
    DEFAULT_ACCEPTANCE_THRESHOLD,
    DEFAULT_FRAUD_RISK_THRESHOLD,
    DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD,
    WATCHLIST_EQUAL_ERROR_COSINE,
    ZERO_COSINE,
    score,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ENROL_PIECES = 4  # 30 s each, part 0; pooled in pairs (0, 1), (2, 3) for the 2×30 s enrolments
TEST30_PIECES = 4  # 30 s each, part 1
TEST10_PIECES = 16  # 10 s calls, part 2 (also through GSM 6.10)
TEST15_PIECES = 8  # 15 s calls, part 3 (also through GSM 6.10)
ENROLMENTS = (("30 s", "enrol30"), ("2×30 s", "enrol60"))
CALLS = (("10 s", "call10"), ("15 s", "call15"), ("10 s GSM", "gsm10"), ("15 s GSM", "gsm15"))
CLEAN, GSM = ("call10", "call15"), ("gsm10", "gsm15")
# Voice ID's targets at AcceptanceThreshold 90, on every call condition of a 30 s enrolment.
MAX_FALSE_ACCEPT = 0.01
MIN_GENUINE_ACCEPT = 0.90
ACCEPTANCE_THRESHOLDS = (50, 60, 70, 80, 85, 90, 91, 92, 94, 96, 98)
WATCHLIST_CALLERS = (("10 s", ("call10", "gsm10")), ("15 s", ("call15", "gsm15")), ("30 s", ("test30",)))
WATCHLIST_THRESHOLDS = (30, 40, 45, 50, 60, 70, 80, 90, 92, 95)


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
    tens, fifteens = slices(key, 2, 10, TEST10_PIECES), slices(key, 3, 15, TEST15_PIECES)
    return {
        "enrol30": [samples.wav_bytes(p) for p in slices(key, 0, 30, ENROL_PIECES)],
        "test30": [samples.wav_bytes(p) for p in slices(key, 1, 30, TEST30_PIECES)],
        "call10": [samples.wav_bytes(p) for p in tens],
        "call15": [samples.wav_bytes(p) for p in fifteens],
        "gsm10": [gsm_round_trip(p) for p in tens],
        "gsm15": [gsm_round_trip(p) for p in fifteens],
    }


def voice_prints(engine: VoiceprintEngine, key: str) -> dict[str, tuple[FloatArray, list[float]]]:
    """Every piece of one voice, and the pooled 2×30 s enrolments, in a single batched engine call."""
    speeches = {kind: [engine.speech(data, f"{key}/{kind}/{i}") for i, data in enumerate(datas)]
                for kind, datas in piece_files(key).items()}
    enrol = speeches["enrol30"]
    requests = {kind: [[s] for s in kind_speeches] for kind, kind_speeches in speeches.items()}
    requests["enrol60"] = [[enrol[i], enrol[i + 1]] for i in range(0, ENROL_PIECES - 1, 2)]
    prints = iter(engine.voiceprints([request for kind_requests in requests.values() for request in kind_requests]))
    result = {}
    for kind, kind_requests in requests.items():
        chosen = [next(prints) for _ in kind_requests]
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


def joined(prints: dict[str, Prints], kinds: Sequence[str]) -> Prints:
    return Prints(np.concatenate([prints[k].voices for k in kinds]),
                  np.concatenate([prints[k].vectors for k in kinds]), 0.0)


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


def accepted(cosines: FloatArray, threshold: int) -> float:
    """The share of trials whose score reaches the threshold (the map scoring.py ships)."""
    return float(np.mean(scores(cosines) >= threshold)) if cosines.size else float("nan")


# ---------------------------------------------------------------------------------------- anchors


def acceptance_interval(conditions: Sequence[Trials]) -> tuple[float, float]:
    """The cosines where every condition meets Voice ID's targets: from the lowest cosine with false accept
    <= MAX_FALSE_ACCEPT everywhere to the highest with genuine accept >= MIN_GENUINE_ACCEPT everywhere.

    Empty (low > high) when the data cannot meet both."""
    def lowest_accepting(nontarget: FloatArray) -> float:  # at most floor(1 % of n) impostors at or above
        ranked = np.sort(nontarget)[::-1]
        allowed = int(MAX_FALSE_ACCEPT * ranked.size + 1e-9)
        return float((ranked[allowed] + ranked[allowed - 1]) / 2) if allowed else float(ranked[0]) + 1e-6

    def highest_accepting(target: FloatArray) -> float:  # at most floor(10 % of n) genuine callers below
        return float(np.sort(target)[int((1.0 - MIN_GENUINE_ACCEPT) * target.size + 1e-9)])

    low = max(lowest_accepting(t.nontarget) for t in conditions)
    high = min(highest_accepting(t.target) for t in conditions)
    return low, high


def watchlist_risks(enrol: Prints, callers: Prints) -> tuple[FloatArray, FloatArray]:
    """Risk cosine (highest cosine against the watchlist) of innocent callers and of listed fraudsters.

    Each watchlist holds one 30 s enrolment per voice (rotating over the enrolment pieces). An
    innocent caller's watchlist holds everybody but the caller's person; a fraudster's holds the
    same plus the caller's own voice.
    """
    keys = np.array(list(samples.VOICES))
    caller_person = person_of(callers.voices)
    others = caller_person[:, None] != person_of(keys)[None, :]
    own = callers.voices[:, None] == keys[None, :]
    innocent, fraudster = [], []
    for variant in range(ENROL_PIECES):
        rows = [np.flatnonzero(enrol.voices == key)[variant] for key in keys]
        risk = callers.vectors @ enrol.vectors[rows].T
        innocent.append(np.where(others, risk, -1.0).max(axis=1))
        fraudster.append(np.where(others | own, risk, -1.0).max(axis=1))
    return np.concatenate(innocent), np.concatenate(fraudster)


# ---------------------------------------------------------------------------------------- report


def report_equal_errors(prints: dict[str, Prints]) -> None:
    print("\nEqual error rates (cosine)")
    print(f"  {'enrolment':<9} {'test':<10} {'genuine':>7} {'impostor':>8} {'EER':>6} {'cos@EER':>7} | "
          f"{'x-lang':>6} {'EER':>6} {'cos@EER':>7}")
    for enrol_name, enrol in ENROLMENTS:
        for call_name, call in (("30 s", "test30"), *CALLS):
            t = trials(prints[enrol], prints[call])
            eer, eer_cos = equal_error(t.target, t.nontarget)
            x_eer, x_cos = equal_error(t.cross_language, t.nontarget)
            print(f"  {enrol_name:<9} {call_name:<10} {t.target.size:>7} {t.nontarget.size:>8} {eer:>6.1%} "
                  f"{eer_cos:>7.3f} | {t.cross_language.size:>6} {x_eer:>6.1%} {x_cos:>7.3f}")


def report_anchors(prints: dict[str, Prints]) -> None:
    one = [trials(prints["enrol30"], prints[call]) for _, call in CALLS]
    low, high = acceptance_interval(one)
    innocent, fraudster = watchlist_risks(prints["enrol30"], joined(prints, WATCHLIST_CALLERS[0][1]))
    watch_eer, watch_cos = equal_error(fraudster, innocent)
    zero = float(np.median(pooled(one).nontarget))
    feasible = "" if low <= high else "  EMPTY: the data cannot meet both targets"
    print("\nAnchors of the score map, measured (scoring.py's constant in brackets)")
    print(f"  score 90  middle of [{low:.4f}, {high:.4f}] = {(low + high) / 2:.4f}  [ACCEPTANCE_COSINE "
          f"{ACCEPTANCE_COSINE}]: one 30 s enrolment vs 10 s / 15 s calls, clean / GSM, false accept <= "
          f"{MAX_FALSE_ACCEPT:.0%} and genuine accept >= {MIN_GENUINE_ACCEPT:.0%} on all four{feasible}")
    print(f"  score 50  {watch_cos:.4f}  [WATCHLIST_EQUAL_ERROR_COSINE {WATCHLIST_EQUAL_ERROR_COSINE}]: "
          f"watchlist equal error {watch_eer:.1%} (10 s callers, clean + GSM)")
    print(f"  score  0  {zero:.4f}  [ZERO_COSINE {ZERO_COSINE}]: median impostor cosine (30 s enrolment, all calls)")


def report_acceptance(prints: dict[str, Prints]) -> None:
    print("\nAuthentication: false accept (impostor >= threshold) / false reject (genuine < threshold)")
    for enrol_name, enrol in ENROLMENTS:
        t = {call: trials(prints[enrol], prints[call]) for _, call in CALLS}
        sizes = ", ".join(f"{n} {t[c].target.size}/{t[c].nontarget.size}" for n, c in CALLS)
        print(f"  {enrol_name} enrolment: {sizes} genuine/impostor trials; x-lang = same person, other language")
        print(f"  {'threshold':>9} " + " ".join(f"{name:>15}" for name, _ in CALLS)
              + f" {'x-lang clean':>12} {'x-lang GSM':>10}")
        print(f"  {'':>9} " + " ".join(f"{'FA':>7} {'FR':>7}" for _ in CALLS) + f" {'FR':>12} {'FR':>10}")
        for threshold in ACCEPTANCE_THRESHOLDS:
            cells = " ".join(f"{accepted(t[c].nontarget, threshold):>7.2%} {1 - accepted(t[c].target, threshold):>7.1%}"
                             for _, c in CALLS)
            x_clean = 1 - accepted(pooled([t[c] for c in CLEAN]).cross_language, threshold)
            x_gsm = 1 - accepted(pooled([t[c] for c in GSM]).cross_language, threshold)
            mark = "*" if threshold == DEFAULT_ACCEPTANCE_THRESHOLD else " "
            print(f"  {threshold:>8}{mark} {cells} {x_clean:>12.1%} {x_gsm:>10.1%}")
        for name, kinds in (("clean", CLEAN), ("GSM 6.10", GSM)):
            p = pooled([t[c] for c in kinds])
            fa = accepted(p.nontarget, DEFAULT_ACCEPTANCE_THRESHOLD)
            ga = accepted(p.target, DEFAULT_ACCEPTANCE_THRESHOLD)
            met = "met" if fa <= MAX_FALSE_ACCEPT and ga >= MIN_GENUINE_ACCEPT else "NOT MET"
            print(f"  at {DEFAULT_ACCEPTANCE_THRESHOLD}, {enrol_name} enrolment, {name} 10 s + 15 s calls: "
                  f"false accept {fa:.2%}, genuine accept {ga:.1%} (targets <= {MAX_FALSE_ACCEPT:.0%} / >= "
                  f"{MIN_GENUINE_ACCEPT:.0%}: {met})")


def report_distributions(prints: dict[str, Prints]) -> None:
    print("\nScores, 30 s enrolment (percentiles 5 / 50 / 95)")
    for name, call in (("30 s test", "test30"), *CALLS):
        t = trials(prints["enrol30"], prints[call])
        for label, cos in (("genuine", t.target), ("impostor", t.nontarget), ("x-lang", t.cross_language)):
            p = np.percentile(scores(cos), [5, 50, 95]).astype(int)
            c = np.percentile(cos, [5, 50, 95])
            print(f"  {name:<10} {label:<9} score {p[0]:>3} {p[1]:>3} {p[2]:>3}   "
                  f"cosine {c[0]:.3f} {c[1]:.3f} {c[2]:.3f}")


def report_watchlist(prints: dict[str, Prints]) -> None:
    risks = {name: watchlist_risks(prints["enrol30"], joined(prints, kinds)) for name, kinds in WATCHLIST_CALLERS}
    innocent, _ = risks["10 s"]
    print(f"\nFraud watchlist: risk = highest score against 6-7 enrolled fraudsters (one 30 s enrolment each); "
          f"callers 10 s and 15 s clean + GSM, 30 s clean; {innocent.size} / {risks['15 s'][0].size} / "
          f"{risks['30 s'][0].size} innocent and as many fraudster calls")
    print(f"  {'threshold':>9} " + " ".join(f"{name + ' callers':>18}" for name in risks))
    print(f"  {'':>9} " + " ".join(f"{'false alarm':>11} {'miss':>6}" for _ in risks))
    table = {}
    for name, (innocent_risks, fraudster_risks) in risks.items():
        innocent_scores, fraudster_scores = scores(innocent_risks), scores(fraudster_risks)
        table[name] = {t: (float(np.mean(innocent_scores >= t)), float(np.mean(fraudster_scores < t)))
                       for t in range(101)}
    for threshold in WATCHLIST_THRESHOLDS:
        cells = " ".join(f"{table[name][threshold][0]:>11.1%} {table[name][threshold][1]:>6.1%}" for name in risks)
        mark = "*" if threshold in {DEFAULT_FRAUD_RISK_THRESHOLD, DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD} else " "
        print(f"  {threshold:>8}{mark} {cells}")
    total = {t: sum(rates) for t, rates in table["10 s"].items()}
    lowest = min(total.values())
    flat = [t for t, v in total.items() if v <= lowest + 0.005]
    best = min(total, key=lambda t: (total[t], -t))
    print(f"  10 s callers: lowest false alarm + miss {lowest:.1%} at {best}; within half a point of it: "
          f"{min(flat)}-{max(flat)}" + ("" if max(flat) - min(flat) + 1 == len(flat) else f" (not contiguous: {flat})"))
    for label, threshold in (("RiskThreshold", DEFAULT_FRAUD_RISK_THRESHOLD),
                             ("FraudsterSimilarityThreshold", DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD)):
        rates = ", ".join(f"{name} callers {table[name][threshold][0]:.1%} / {table[name][threshold][1]:.1%}"
                          for name in risks)
        print(f"  default {label} {threshold}: false alarm / miss: {rates}")


def main() -> None:
    started = time.perf_counter()
    prints = all_prints(VoiceprintEngine())
    net = ", ".join(f"{kind} {p.net_speech:.1f} s" for kind, p in prints.items())
    print(f"{len(samples.VOICES)} voices, {len({v.person for v in samples.VOICES.values()})} people; "
          f"{sum(p.voices.size for p in prints.values())} voiceprints in "
          f"{time.perf_counter() - started:.0f} s; mean net speech per piece: {net}")
    report_equal_errors(prints)
    report_anchors(prints)
    report_acceptance(prints)
    report_distributions(prints)
    report_watchlist(prints)
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
