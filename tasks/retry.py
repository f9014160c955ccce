"""The one retry policy shared by the sync's tasks."""

from __future__ import annotations

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import exponential_backoff

from affiliate_sync.errors import ErrorCode, error_code_of
from affiliate_sync.hubspot import HubSpotRequestError

TASK_RETRIES = 2
TASK_RETRY_DELAYS = exponential_backoff(backoff_factor=5)
TASK_RETRY_JITTER = 0.5

# Waiting cannot fix these: a bad token, a bad registry, an empty portal or a bad setting.
NOT_RETRYABLE = frozenset(
    {ErrorCode.HUBSPOT_AUTH, ErrorCode.REGISTRY_INVALID, ErrorCode.HUBSPOT_EMPTY, ErrorCode.CONFIG_INVALID}
)


def worth_retrying(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry transient failures only; a failure the operator must fix fails at once."""
    try:
        state.result()
    except HubSpotRequestError:  # HubSpot rejected the request itself (a 4xx): it would again
        return False
    except Exception as exc:  # the task's own exception, re-raised by result()
        return error_code_of(exc) not in NOT_RETRYABLE
    return True
