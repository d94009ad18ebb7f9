"""The studio's job routes: list, follow (server-sent events), cancel, resume, preview."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from museforge.errors import InputError
from museforge.studio.deps import MAX_SQL_INT, find_job, job_queue, workspace
from museforge.studio.jobs import sse_format
from museforge.studio.schema import (
    EVENT_STREAM,
    JobBody,
    files,
)

router = APIRouter(prefix="/api")
SSE_WAIT_S = 15.0


def _job_json(job: Any) -> dict[str, Any]:
    return dict(job.__dict__)


@router.get("/jobs", response_model=list[JobBody])
def list_jobs(request: Request, limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    return [_job_json(j) for j in job_queue(request).list(limit)]


@router.get("/jobs/{job_id}", response_model=JobBody)
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    return _job_json(find_job(request, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobBody)
def cancel_job(job_id: str, request: Request) -> dict[str, Any]:
    find_job(request, job_id)  # an unknown id is a 404, not a refusal
    job_queue(request).cancel(job_id)
    return _job_json(job_queue(request).get(job_id))


@router.post("/jobs/{job_id}/resume", response_model=JobBody)
def resume_job(job_id: str, request: Request) -> dict[str, Any]:
    find_job(request, job_id)
    job_queue(request).resume(job_id)
    return _job_json(job_queue(request).get(job_id))


@router.get("/jobs/{job_id}/events", response_class=Response, responses=EVENT_STREAM)
async def job_events(
    job_id: str, request: Request, after: int = Query(0, ge=0, le=MAX_SQL_INT)
) -> StreamingResponse:
    """Server-sent events; a reconnecting page resumes after its Last-Event-ID."""
    queue = job_queue(request)
    find_job(request, job_id)  # unknown id: 404 before the stream starts
    last = request.headers.get("last-event-id", "")
    # Only an id a stream could have sent: "²" is a digit to isdigit() but not to int().
    if last.isascii() and last.isdigit() and len(last) < len(str(MAX_SQL_INT)):
        after = max(after, int(last))
    finished = {"done", "failed", "cancelled", "interrupted"}

    async def stream():
        seq = after
        while not await request.is_disconnected():
            events = queue.events(job_id, seq)
            if not events:
                if queue.get(job_id).state in finished:
                    return
                events = await asyncio.to_thread(queue.wait_events, job_id, seq, SSE_WAIT_S)
            for event in events:
                seq = event.seq
                yield sse_format(event)
                # End with the job: an open stream would hold a thread, and the server's
                # shutdown, for up to SSE_WAIT_S. A job interrupted by a restart is queued
                # again at once: it is followed on; one resumed by hand, with a new stream.
                if (
                    event.type == "state"
                    and event.data.get("state") in finished
                    and queue.get(job_id).state in finished
                ):
                    return
            if not events:
                yield ": keep-alive\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get(
    "/jobs/{job_id}/preview",
    response_class=Response,
    responses=files("The latest preview picture", "image/png"),
)
def job_preview(job_id: str, request: Request) -> FileResponse:
    """The latest preview picture of a training job (chosen by the server)."""
    job = find_job(request, job_id)
    if job.kind != "train":
        raise InputError(f"job {job_id} is not a training job")
    folder = workspace(request).trained_dir / str(job.params["name"]) / "previews"
    previews = sorted(folder.glob("step-*.png"))
    if not previews:
        raise InputError(f"job {job_id} has no preview yet")
    return FileResponse(previews[-1], media_type="image/png", headers={"Cache-Control": "no-store"})
