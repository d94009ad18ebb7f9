"""What every route of the studio's API reaches through the request: the workspace, the job
queue, a job by id."""

from __future__ import annotations

from fastapi import Request

from museforge.errors import InputError
from museforge.studio.jobs import Job, JobQueue
from museforge.studio.workspace import Workspace

# SQLite's largest integer: an event number or offset past it cannot be looked up (a 422,
# not an OverflowError from the database).
MAX_SQL_INT = 2**63 - 1


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def job_queue(request: Request) -> JobQueue:
    return request.app.state.jobs


def find_job(request: Request, job_id: str) -> Job:
    """The job called ``job_id``; a 404 (an InputError starting "no ") if there is none."""
    try:
        return job_queue(request).get(job_id)
    except InputError:
        raise InputError(f"no job {job_id!r}") from None
