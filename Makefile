# speaker-enrollment: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BENCH_VENV := .venv-bench
MODEL := lambdas/speaker_enrollment/model/ge2e.npz
VAD_MODEL := lambdas/speaker_enrollment/model/silero_vad.onnx
SPEECH_STAMP := /usr/share/asterisk/moh/macroform-cold_day.wav
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup model speech test lint unit demo chaos bench bench-vad bench-voiceprint bench-job bench-contention bench-session bench-purge bench-aws bench-burst clean

setup: $(VENV)/.installed $(MODEL) $(VAD_MODEL)

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

model: $(MODEL) $(VAD_MODEL)

# One run writes both: the GE2E weights and the Silero VAD model, each from its pinned wheel.
$(MODEL) $(VAD_MODEL) &: tools/build_model.py lambdas/speaker_enrollment/voiceprint/checkpoint.py | $(VENV)/.installed
	$(BIN)/python tools/build_model.py

# Real speech for tests and the demo: Debian's Asterisk prompt packages (8 kHz, real people), and hold music.
speech: $(SPEECH_STAMP)

$(SPEECH_STAMP):
	tools/install-speech.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy lambdas/speaker_enrollment cli/enrollctl

unit: setup speech
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test: lint unit

demo: setup speech
	$(BIN)/python -m enrollctl.demo

# Three jobs of 60 real-speech requests at once with every fault switched on (issue #9); `make test` runs a short one.
chaos: setup speech
	CHAOS=full $(BIN)/python -m pytest -q -s tests/test_chaos.py

$(BENCH_VENV)/.installed: bench/requirements.txt requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e . resemblyzer==0.1.4
	touch $@

# Both benchmarks: the voiceprint engine against resemblyzer (.venv-bench, issue #2), then a 200-request
# job on the local runtime against the pure compute of the same audio (the dev venv, issue #3).
bench: bench-vad bench-voiceprint bench-job bench-contention bench-session bench-purge bench-aws bench-burst

bench-voiceprint: setup speech $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m bench.voiceprint

# Silero VAD beside WebRTC's: net speech in speech and hold music, CPU per minute of audio on one core (issue 16).
bench-vad: setup speech
	$(BIN)/python -m bench.vad

bench-job: setup speech
	$(BIN)/python -m bench.job

# 100 concurrent shard writers on one domain's speaker count, with DynamoDB's transaction conflicts (issue #9).
bench-contention: setup
	$(BIN)/python -m bench.contention

# EvaluateSession on a 60 s call (issue #11): latency upload -> ENDED on the local runtime, compute on one core.
bench-session: setup speech
	$(BIN)/python -m bench.session

# DeleteDomain of 10,000 and 100,000 speakers on the local runtime, beside the purge task run in-process (issue 15).
bench-purge: setup
	$(BIN)/python -m bench.purge

# A projection of one enrollment job in AWS (issue 18): time, cost per 1,000, the binding limit and the best settings, from
# figures measured here (about 20 s on one core) and AWS's published limits; `python -m bench.aws --help` for your own.
bench-aws: setup speech
	$(BIN)/python -m bench.aws

# 500 session uploads and 3 evaluation jobs of 200 requests at once on the local runtime (issue 18 item 1):
# sessions/s, requests/s, timeouts and drops (target: none).
bench-burst: setup speech
	$(BIN)/python -m bench.burst

clean:
	rm -rf $(VENV) $(BENCH_VENV) cdk.out build $(MODEL) $(VAD_MODEL)

# Third-party wheels of the Lambda functions (python3.12, arm64), built without Docker.
.PHONY: lambda-layer synth
lambda-layer: build/lambda-layer/python

build/lambda-layer/python: requirements.txt tools/build-lambda-layer.sh | $(VENV)/.installed
	tools/build-lambda-layer.sh

# The CloudFormation template (cdk.out), checked by cdk-nag; `npx aws-cdk@2 deploy` deploys it.
synth: setup lambda-layer
	$(BIN)/python app.py
