"""The studio application: API, static pages, job queue and security, put together.

``create_app`` builds everything from a :class:`StudioConfig`; ``serve`` runs it with
uvicorn on 127.0.0.1 and prints the address with its per-launch token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from museforge.errors import InputError, MuseforgeError, SettingError
from museforge.studio import api, api_gallery, api_jobs
from museforge.studio.jobs import JobQueue
from museforge.studio.runners import run_generate, run_train, run_visualise
from museforge.studio.schema import document_errors
from museforge.studio.security import (
    SecurityPolicy,
    document_token,
    install_security,
    new_token,
    refusals,
)
from museforge.studio.workspace import Workspace

STATIC = Path(__file__).parent / "static"
# The API's routes, all under /api.
ROUTERS = (api.router, api_jobs.router, api_gallery.router)


@dataclass(frozen=True)
class StudioConfig:
    """Where the studio keeps things and how it listens."""

    gallery_root: Path
    models_dir: Path
    host: str = "127.0.0.1"
    port: int = 8765
    workers: int = 1
    token: str = field(default_factory=new_token)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(err: RequestValidationError) -> str:
    first = err.errors()[0] if err.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
    return f"invalid request: {where or 'body'}: {first.get('msg', 'malformed')}"


def _complete_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` with every operation's error answers and the token it needs: the
    handlers below and the security middleware act for all routes, which do not declare
    them."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            document_errors(schema, refusals)
            document_token(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app(config: StudioConfig) -> FastAPI:
    """The studio as an ASGI app; its job workers start and stop with the app."""
    workspace = Workspace.at(config.gallery_root, config.models_dir)
    runners = {
        "generate": lambda job, ctx: run_generate(workspace, ctx),
        "train": lambda job, ctx: run_train(workspace, ctx),
        "visualise": lambda job, ctx: run_visualise(workspace, ctx),
    }
    db = workspace.gallery.root / ".museforge" / "jobs.sqlite"
    jobs = JobQueue(db, runners, workers=config.workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workspace.remove_stale_temp_files()  # left by a process killed mid-write
        workspace.gallery.sync()
        jobs.start()
        yield
        jobs.stop()

    app = FastAPI(title="museforge studio", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.workspace, app.state.jobs, app.state.config = workspace, jobs, config

    @app.exception_handler(MuseforgeError)
    async def _user_error(request: Request, err: MuseforgeError) -> JSONResponse:
        missing = isinstance(err, InputError) and str(err).startswith("no ")
        response = _error(404 if missing else 400, str(err))
        if isinstance(err, SettingError):  # the page marks the field it names
            response = JSONResponse({"error": str(err), "setting": err.setting}, status_code=400)
        return response

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, err: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(err))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, err: HTTPException) -> JSONResponse:
        return _error(err.status_code, str(err.detail))

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    install_security(app, SecurityPolicy(config.host, config.port, config.token))
    app.openapi = _complete_openapi(app)  # type: ignore[method-assign]
    return app


def studio_url(config: StudioConfig) -> str:
    """The address to open, with the launch token the page needs for changes."""
    return f"http://{config.host}:{config.port}/?token={config.token}"


def serve(config: StudioConfig) -> None:
    """Run the studio until Ctrl-C (uvicorn, one process; jobs run in worker threads)."""
    import uvicorn

    app = create_app(config)
    print(f"museforge studio: {studio_url(config)}", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning")
