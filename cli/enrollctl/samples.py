"""Real telephone speech for tests, benchmarks and the demo.

Debian's Asterisk prompt packages hold thousands of 8 kHz studio prompts spoken by real people
(CC-BY-SA-3.0 / CC-BY-3.0 / GPL, see each package's copyright file). A "recording" here is a
deterministic concatenation of prompts of one speaker; different parts of the same speaker never
share a prompt, so two parts of one voice say different words.

Audio that is not speech: Debian's ``asterisk-moh-opsound-wav`` (hold music without vocals, 8 kHz,
CC-BY-SA-3.0) and synthetic noise and tones.

Install the packages with ``make speech`` (``.ci/run`` does it on CI).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

SOUNDS_ROOT = Path("/usr/share/asterisk/sounds")
MUSIC_ROOT = Path("/usr/share/asterisk/moh")
RATE = 8000
DEBIAN_PACKAGES = (
    "asterisk-core-sounds-en-wav",
    "asterisk-core-sounds-es-wav",
    "asterisk-core-sounds-fr-wav",
    "asterisk-core-sounds-it-wav",
    "asterisk-core-sounds-ru-wav",
    "asterisk-prompt-it-menardi-wav",
    "asterisk-prompt-fr-armelle",
    "asterisk-prompt-es-co",
    "asterisk-moh-opsound-wav",
)
HOLD_MUSIC = (
    "macroform-cold_day",
    "macroform-robot_dity",
    "macroform-the_simplicity",
    "manolo_camp-morning_coffee",
    "reno_project-system",
)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Voice:
    """One speaker's prompts: a directory and how its files are stored."""

    key: str
    person: str
    directory: str
    suffix: str  # ".wav" (PCM16 WAV) or ".gsm" (headerless GSM 6.10)


VOICES: dict[str, Voice] = {
    v.key: v
    for v in (
        Voice("allison-en", "Allison Smith", "en_US_f_Allison", ".wav"),
        Voice("allison-es", "Allison Smith", "es_MX_f_Allison", ".wav"),
        Voice("june-fr", "June Wallack", "fr_CA_f_June", ".wav"),
        Voice("carlo-it", "Carlo Flora", "it_IT_m_Carlo", ".wav"),
        Voice("menardi-it", "Menardi", "it_IT_f_Menardi", ".wav"),
        Voice("ivr-ru", "IvrvoiceRU", "ru_RU_f_IvrvoiceRU", ".wav"),
        Voice("armelle-fr", "Armelle Desjardins", "fr", ".gsm"),
        Voice("colombia-es", "es-CO speaker", "es", ".gsm"),
    )
}


class SpeechNotInstalledError(RuntimeError):
    pass


def _not_installed(what: str) -> SpeechNotInstalledError:
    return SpeechNotInstalledError(f"{what}: run 'make speech' (apt-get install {' '.join(DEBIAN_PACKAGES)})")


@cache
def _prompt_files(key: str) -> tuple[Path, ...]:
    voice = VOICES[key]
    files = sorted((SOUNDS_ROOT / voice.directory).rglob(f"*{voice.suffix}"))
    if not files:
        raise _not_installed(f"no prompts for {key} under {SOUNDS_ROOT / voice.directory}")
    shuffled = list(files)
    random.Random(key).shuffle(shuffled)
    return tuple(shuffled)


def _read_prompt(path: Path) -> FloatArray:
    if path.suffix == ".gsm":
        samples, _ = soundfile.read(
            path, format="RAW", subtype="GSM610", samplerate=RATE, channels=1, dtype="float32"
        )
    else:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        samples = samples[:, 0]
        if rate != RATE:
            raise ValueError(f"{path} is {rate} Hz, expected {RATE}")
    return np.asarray(samples, dtype=np.float32)


@cache
def recording(key: str, seconds: float, part: int = 0) -> FloatArray:
    """About `seconds` of speech by one voice; parts 0, 1, 2… use disjoint prompts."""
    files = _prompt_files(key)
    used = 0
    chunks: list[FloatArray] = []
    target = int(seconds * RATE)
    # Each part takes prompts round-robin from its own stride so parts never overlap.
    for index in range(part, len(files), 4):
        chunks.append(_read_prompt(files[index]))
        used += chunks[-1].size
        if used >= target:
            return np.concatenate(chunks)[:target]
    raise ValueError(f"{key} has too few prompts for {seconds} s in part {part}")


@cache
def hold_music(track: str, seconds: float, start: float = 10.0) -> FloatArray:
    """`seconds` of a hold-music track (HOLD_MUSIC) from `start` s in (past its fade-in)."""
    path = MUSIC_ROOT / f"{track}.wav"
    if not path.exists():
        raise _not_installed(f"no hold music at {path}")
    music = _read_prompt(path)[int(start * RATE) :][: int(seconds * RATE)]
    if music.size < int(seconds * RATE):
        raise ValueError(f"{track} is shorter than {start + seconds} s")
    return music


def white_noise(seconds: float, level: float = 0.1, seed: int = 0) -> FloatArray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * level).astype(np.float32)


def pink_noise(seconds: float, peak: float = 0.3, seed: int = 0) -> FloatArray:
    """1/f noise (white noise shaped in the frequency domain), scaled to `peak`."""
    size = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(size))
    noise = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(spectrum.size), 1)), size)
    return np.asarray(noise * peak / np.abs(noise).max(), dtype=np.float32)


def tones(seconds: float, *hertz: float, level: float = 0.3) -> FloatArray:
    """A steady tone (several frequencies: a chord such as a DTMF digit), summed to peak at `level`."""
    times = np.arange(int(seconds * RATE)) / RATE
    waves = np.sin(2 * np.pi * np.outer(hertz, times)).sum(axis=0)
    return np.asarray(waves * level / len(hertz), dtype=np.float32)


def mix(speech: FloatArray, noise: FloatArray, snr_db: float) -> FloatArray:
    """`speech` with `noise` (at least as long) under it at `snr_db` dB signal-to-noise ratio."""
    under = noise[: speech.size].astype(np.float64)
    gain = np.sqrt(np.mean(speech.astype(np.float64) ** 2) / np.mean(under**2) / 10 ** (snr_db / 10))
    return np.asarray(speech + under * gain, dtype=np.float32)


def wav_bytes(samples: FloatArray | npt.NDArray[np.float32], rate: int = RATE, subtype: str = "PCM_16",
              file_format: str = "WAV") -> bytes:
    """Encode samples (mono 1-D or frames × channels) as an audio file."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, subtype=subtype, format=file_format)
    return buffer.getvalue()
