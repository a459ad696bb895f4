"""Fixes of moto's Step Functions Map state, so that the local runtime runs the largest jobs to the end.

moto 5.2.5's Map workers (``moto/stepfunctions/parser/asl/component/state/exec/state_map/iteration/``) have
three defects, each patched here:

- **One Python frame per item.** A worker runs an item, then takes the next one by calling itself:
  ``_eval_pool(job, frame)`` ends with ``self._eval_pool(next_job, frame)`` (``IterationWorker`` for inline
  Maps, ``DistributedItemProcessorWorker`` and ``DistributedIteratorWorker`` for Distributed Maps). A worker
  thread reaches ``sys.getrecursionlimit()`` (1000) after about 985 items: a Distributed Map of more than
  ~985 items per worker (MaxConcurrency workers) cannot finish. Patch: that tail call only queues its
  arguments and the outermost call runs the queue in a loop (``_iterative``): each step is still moto's own.
- **Silent stop.** The RecursionError (or any other error of the engine outside an item) escapes the
  worker's thread, which ``threading`` prints to stderr and forgets; the item the worker held is never
  closed and ``JobPool.await_jobs`` waits for it forever: the execution stays RUNNING, with no error.
  Patch: an error escaping a worker fails the Map Run with States.Runtime (``_surfacing``).
- **Items lost without a trace.** A distributed worker's ``_eval_job`` turns a failed item (an error that
  its states did not catch, or an exception of the engine while running it, RecursionError included) into
  the output null, counts it and goes on; the Map Run then succeeds: moto ignores ToleratedFailureCount and
  ToleratedFailurePercentage. Patch: as in AWS, a failed item beyond the declared tolerance (none: the
  first failed item) fails the Map Run with States.ExceedToleratedFailureThreshold (``_failing``).

A failed Map Run fails the Map state, which its Catch (or the execution) then handles, as in AWS.

The patches read moto's private attributes: ``install`` refuses any moto but the pinned one.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, cast

import moto
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker import IterationWorker
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator.distributed_iterator_worker import (  # noqa: E501
    DistributedIteratorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import Job
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError, ProgramStopped

LOG = logging.getLogger(__name__)

PINNED_MOTO_VERSION = "5.2.5"  # requirements-dev.txt; check the three defects again before moving it
_PENDING = "_enrollctl_pending"  # a worker's attribute: the queued tail call of its running loop
_MOTO_OBJECT = Any  # moto's worker and job objects: the patches use attributes that moto does not type

# The classes that define each patched method (a subclass inherits the patch of its base).
_WORKERS = (IterationWorker, DistributedItemProcessorWorker, DistributedIteratorWorker)
_DISTRIBUTED_WORKERS = (DistributedItemProcessorWorker, DistributedIteratorWorker)


class MotoVersionError(RuntimeError):
    """The installed moto is not the one these patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    """Raise MotoVersionError unless ``installed`` (by default: the imported moto's version) is the pinned one."""
    installed = installed or moto.__version__
    if installed != PINNED_MOTO_VERSION:
        raise MotoVersionError(
            f"enrollctl's local runtime patches the Map state of moto {PINNED_MOTO_VERSION} "
            f"(enrollctl/local/map_runner.py) and moto {installed} is installed: install moto=={PINNED_MOTO_VERSION} "
            f"(requirements-dev.txt), or check the patches against moto {installed} and update PINNED_MOTO_VERSION")


# ------------------------------------------------------------------------------------------ the patches


def _iterative(eval_pool: Callable[..., None]) -> Callable[..., None]:
    """moto's ``_eval_pool(job, worker_frame)`` runs ``job`` and ends with ``self._eval_pool(next_job, ...)``:
    inside the loop below, that call queues its arguments and returns, and the loop runs them next."""

    @functools.wraps(eval_pool)
    def eval_pool_in_a_loop(worker: _MOTO_OBJECT, job: Job | None, worker_frame: Environment) -> None:
        pending: list[tuple[Job | None, Environment]] | None = getattr(worker, _PENDING, None)
        if pending is not None:  # the tail call of the step running below
            pending.append((job, worker_frame))
            return
        pending = [(job, worker_frame)]
        setattr(worker, _PENDING, pending)
        try:
            while pending:
                eval_pool(worker, *pending.pop())
        finally:
            delattr(worker, _PENDING)

    return eval_pool_in_a_loop


def _surfacing(eval_worker: Callable[..., None]) -> Callable[..., None]:
    """A worker's ``eval`` (its thread's target): an error escaping it fails the Map Run instead of
    leaving the Map waiting forever for the item the worker held."""

    @functools.wraps(eval_worker)
    def eval_or_fail_map_run(worker: _MOTO_OBJECT) -> None:
        try:
            eval_worker(worker)
        except Exception as error:
            LOG.error("a worker of Map state %r failed", worker._work_name, exc_info=True)
            cause = f"A worker of Map state '{worker._work_name}' failed: {type(error).__name__}: {error}"
            _fail_map_run(worker, _map_run_failure(worker._env, StatesErrorNameType.StatesRuntime, cause))

    return eval_or_fail_map_run


def _failing(eval_job: Callable[..., None]) -> Callable[..., None]:
    """A distributed worker's ``_eval_job``: a failed item beyond the Map's tolerance fails the Map Run."""

    @functools.wraps(eval_job)
    def eval_job_or_fail_map_run(worker: _MOTO_OBJECT, env: Environment, job: _MOTO_OBJECT) -> None:
        eval_job(worker, env, job)
        outcome = env.program_state()
        # Ended: the item succeeded; stopped: the execution is being stopped, as moto handles it.
        if isinstance(outcome, ProgramEnded | ProgramStopped) or not _beyond_tolerance(worker):
            return
        reason = _item_error(outcome)
        LOG.warning("item %s of Map state %r failed: %s", job.job_index, worker._work_name, reason)
        cause = (f"The specified tolerated failure threshold was exceeded: item {job.job_index} "
                 f"of Map state '{worker._work_name}' failed: {reason}")
        # An exception as the item's output ends the Map Run: moto's JobPool then hands out no more items
        # and the Map state raises it.
        job.job_output = _map_run_failure(env, StatesErrorNameType.StatesExceedToleratedFailureThreshold, cause)

    return eval_job_or_fail_map_run


# ------------------------------------------------------------------------------------------- helpers


def _beyond_tolerance(worker: _MOTO_OBJECT) -> bool:
    """Whether the items failed so far exceed ToleratedFailureCount or ToleratedFailurePercentage. moto
    reads an absent tolerance as 0: a tolerance of 0 is taken as absent when the other one is set."""
    record = worker._map_run_record
    failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
    items = max(worker._job_pool._jobs_number, 1)
    exceeded = []
    if record.tolerated_failure_count > 0:
        exceeded.append(failed > record.tolerated_failure_count)
    if record.tolerated_failure_percentage > 0:
        exceeded.append(100 * failed / items > record.tolerated_failure_percentage)
    return any(exceeded) or not exceeded


def _item_error(outcome: object) -> str:
    if isinstance(outcome, ProgramError) and outcome.error:
        return f"{outcome.error.get('error', '')}: {outcome.error.get('cause', '')}"
    # moto's _eval_job swallowed the exception (it logs it at DEBUG on its module's logger).
    return "an error of the engine, not of its states (moto logs it at DEBUG)"


def _map_run_failure(env: Environment, error: StatesErrorNameType, cause: str) -> FailureEventException:
    """The exception that fails a Map Run with ``error`` (moto reports it in MapRunFailed, then the Map
    state fails with it: the Error and Cause that its Catch, or the execution, gets)."""
    name = StatesErrorName(typ=error)
    details = MapRunFailedEventDetails(error=name.error_name, cause=cause)
    # moto's EventDetails is a total TypedDict that moto itself always fills with one key.
    event_details = cast(EventDetails, {"mapRunFailedEventDetails": details})
    return FailureEventException(FailureEvent(env=env, error_name=name, event_type=HistoryEventType.MapRunFailed,
                                              event_details=event_details))


def _fail_map_run(worker: _MOTO_OBJECT, failure: Exception) -> None:
    """Close a stand-in item with ``failure`` as its output: moto's JobPool records the first such output,
    wakes the Map state waiting for its items, and the Map state raises it."""
    stand_in: _MOTO_OBJECT = Job(job_index=-1, job_program=None, job_input=None)  # type: ignore[arg-type]
    stand_in.job_output = failure
    worker._job_pool.close_job(stand_in)


# ----------------------------------------------------------------------------------- install/uninstall


class MapRunner:
    """Installs/uninstalls the patches (process-wide, counted like ``InProcessLambda``)."""

    _installs = 0
    _originals: dict[tuple[type, str], Any] = {}  # noqa: RUF012 - process-wide, guarded by _lock
    _lock = threading.Lock()

    @classmethod
    def install(cls) -> None:
        check_moto_version()
        with cls._lock:
            cls._installs += 1
            if cls._installs == 1:
                cls._patch()

    @classmethod
    def uninstall(cls) -> None:
        with cls._lock:
            cls._installs = max(0, cls._installs - 1)
            if cls._installs == 0:
                for (owner, name), original in cls._originals.items():
                    setattr(owner, name, original)
                cls._originals.clear()

    @classmethod
    def installed(cls) -> bool:
        return cls._installs > 0

    @classmethod
    def _patch(cls) -> None:
        for owner in _WORKERS:
            cls._replace(owner, "_eval_pool", _iterative)
            cls._replace(owner, "eval", _surfacing)
        for owner in _DISTRIBUTED_WORKERS:
            cls._replace(owner, "_eval_job", _failing)

    @classmethod
    def _replace(cls, owner: type, name: str, wrap: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]  # the class's own definition, not an inherited one
        cls._originals[(owner, name)] = original
        setattr(owner, name, wrap(original))
