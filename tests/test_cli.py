"""`enrollctl voiceprint` and `enrollctl compare`, as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from enrollctl import cli
from helpers import SHORT_PART, SHORT_SECONDS, VoiceprintOf, cos, pcm16_wav, recording
from speaker_enrollment.voiceprint import engine as engine_module
from speaker_enrollment.voiceprint.model import MODEL_ID

VOICEPRINT_KEYS = {"File", "ModelId", "NetSpeechSeconds", "Voiceprint"}


@pytest.fixture(autouse=True)
def one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's engine uses every core by default; one keeps parallel test workers from thrashing."""
    monkeypatch.setattr(engine_module, "available_cores", lambda: 1)


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Recordings on disk, named like a user's files."""
    folder = tmp_path_factory.mktemp("calls")
    allison = recording("allison-en", SHORT_SECONDS, SHORT_PART)
    carlo = recording("carlo-it", SHORT_SECONDS, SHORT_PART)
    stereo = np.stack([carlo[: allison.size], allison], axis=1)  # agent on channel 0, caller on 1
    files = {
        "allison": pcm16_wav(allison),
        "allison-other-words": pcm16_wav(recording("allison-en", 20.0, 3)),
        "carlo": pcm16_wav(carlo),
        "stereo": pcm16_wav(stereo),
        "garbage": b"this is a text file, not a recording\n",
        "empty": b"",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name} call.wav"
        paths[name].write_bytes(data)
    paths["missing"] = folder / "missing call.wav"
    return paths


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def voiceprint_lines(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines()]
    for record in lines:
        assert set(record) == VOICEPRINT_KEYS
        assert record["ModelId"] == MODEL_ID
        vector = record["Voiceprint"]
        assert len(vector) == 256
        assert all(isinstance(x, float) for x in vector)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert record["NetSpeechSeconds"] > 0
    return lines


def test_voiceprint_prints_one_json_line_per_file(
    capsys: pytest.CaptureFixture[str], calls: dict[str, Path], voiceprint_of: VoiceprintOf
) -> None:
    status, out, err = run(capsys, "voiceprint", calls["allison"], calls["carlo"])
    assert (status, err) == (0, "")
    lines = voiceprint_lines(out)
    assert [line["File"] for line in lines] == [str(calls["allison"]), str(calls["carlo"])]
    for line, voice in zip(lines, ("allison-en", "carlo-it"), strict=True):
        expected = voiceprint_of(voice, SHORT_SECONDS, SHORT_PART)
        assert cos(np.array(line["Voiceprint"]), expected.vector) > 0.99999
        assert line["NetSpeechSeconds"] == expected.net_speech_seconds
        assert line["NetSpeechSeconds"] <= SHORT_SECONDS


def test_a_failing_file_among_good_ones(capsys: pytest.CaptureFixture[str], calls: dict[str, Path]) -> None:
    status, out, err = run(
        capsys, "voiceprint", calls["allison"], calls["garbage"], calls["empty"], calls["missing"], calls["carlo"]
    )
    assert status == 1
    assert [line["File"] for line in voiceprint_lines(out)] == [str(calls["allison"]), str(calls["carlo"])]
    messages = err.splitlines()
    assert messages == [
        f"enrollctl: {calls['garbage']}: not a readable audio file" + messages[0].split("not a readable audio file")[1],
        f"enrollctl: {calls['empty']}: file is empty",
        f"enrollctl: {calls['missing']}: cannot read file (No such file or directory)",
    ]


def test_voiceprint_channel_option(
    capsys: pytest.CaptureFixture[str], calls: dict[str, Path], voiceprint_of: VoiceprintOf
) -> None:
    status, out, err = run(capsys, "voiceprint", "--channel", "1", calls["stereo"])
    assert (status, err) == (0, "")
    (line,) = voiceprint_lines(out)
    vector = np.array(line["Voiceprint"])
    assert cos(vector, voiceprint_of("allison-en", SHORT_SECONDS, SHORT_PART).vector) > 0.9999  # the caller
    assert cos(vector, voiceprint_of("carlo-it", SHORT_SECONDS, SHORT_PART).vector) < 0.9  # not the agent

    status, out, err = run(capsys, "voiceprint", "--channel", "1", calls["allison"], calls["stereo"])
    assert status == 1
    assert err == f"enrollctl: {calls['allison']}: ChannelId 1 requested, but the file has 1 channel(s)\n"
    assert [line["File"] for line in voiceprint_lines(out)] == [str(calls["stereo"])]


def compare(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> dict[str, Any]:
    status, out, err = run(capsys, "compare", *argv)
    assert (status, err) == (0, "")
    result: dict[str, Any] = json.loads(out)
    assert set(result) == {"Score", "Cosine", "NetSpeechSeconds"}
    assert isinstance(result["Score"], int) and 0 <= result["Score"] <= 100
    assert -1.0 <= result["Cosine"] <= 1.0
    assert len(result["NetSpeechSeconds"]) == 2
    return result


def test_compare_same_person_other_words_and_different_people(
    capsys: pytest.CaptureFixture[str], calls: dict[str, Path], voiceprint_of: VoiceprintOf
) -> None:
    same = compare(capsys, calls["allison"], calls["allison-other-words"])
    different = compare(capsys, calls["allison"], calls["carlo"])
    assert same["Score"] > 50 > different["Score"]
    assert same["Cosine"] > different["Cosine"] + 0.1
    expected = cos(
        voiceprint_of("allison-en", SHORT_SECONDS, SHORT_PART).vector,
        voiceprint_of("carlo-it", SHORT_SECONDS, SHORT_PART).vector,
    )
    assert different["Cosine"] == pytest.approx(expected, abs=1e-5)
    assert different["NetSpeechSeconds"] == [
        voiceprint_of("allison-en", SHORT_SECONDS, SHORT_PART).net_speech_seconds,
        voiceprint_of("carlo-it", SHORT_SECONDS, SHORT_PART).net_speech_seconds,
    ]


def test_compare_channel_options(capsys: pytest.CaptureFixture[str], calls: dict[str, Path]) -> None:
    caller = compare(capsys, calls["stereo"], calls["allison"], "--channel-a", "1")
    assert caller["Cosine"] > 0.9999 and caller["Score"] == 100
    agent = compare(capsys, calls["allison"], calls["stereo"], "--channel-b", "0")
    assert agent["Score"] < 50
    both = compare(capsys, calls["stereo"], calls["stereo"], "--channel-a", "0", "--channel-b", "1")
    assert both["Cosine"] == pytest.approx(agent["Cosine"], abs=1e-5)


def test_compare_with_a_bad_file(capsys: pytest.CaptureFixture[str], calls: dict[str, Path]) -> None:
    status, out, err = run(capsys, "compare", calls["allison"], calls["empty"])
    assert (status, out) == (1, "")
    assert err == f"enrollctl: {calls['empty']}: file is empty\n"

    status, out, err = run(capsys, "compare", calls["allison"], calls["stereo"], "--channel-b", "2")
    assert (status, out) == (1, "")
    assert err == f"enrollctl: {calls['stereo']}: ChannelId 2 requested, but the file has 2 channel(s)\n"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["voiceprint"], ["compare", "only-one.wav"], ["voiceprint", "--channel", "left", "a.wav"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 2
        assert "usage: enrollctl" in capsys.readouterr().err


def test_installed_entry_point(calls: dict[str, Path]) -> None:
    """The console script `pip install` made next to this interpreter runs the same command."""
    executable = shutil.which("enrollctl", path=str(Path(sys.executable).parent))
    assert executable, f"no enrollctl next to {sys.executable}: run 'make setup' (pip install -e .)"
    done = subprocess.run(
        [executable, "voiceprint", str(calls["carlo"]), str(calls["garbage"])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    (line,) = voiceprint_lines(done.stdout)
    assert line["File"] == str(calls["carlo"])
    assert done.stderr.startswith(f"enrollctl: {calls['garbage']}: not a readable audio file")
