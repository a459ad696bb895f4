"""The registry of batch job kinds. Adding a kind: one module beside these (a ``JobType`` subclass and its
request, config, result and shard rules) and one entry below; see docs/architecture.md."""

from __future__ import annotations

from ..jobtype import JobTypes
from .enrollment import SPEAKER_ENROLLMENT
from .evaluation import SPEAKER_EVALUATION
from .registration import FRAUDSTER_REGISTRATION

JOB_TYPES = JobTypes(SPEAKER_ENROLLMENT, FRAUDSTER_REGISTRATION, SPEAKER_EVALUATION)
