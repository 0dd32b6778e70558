"""The flopbill web server: a JSON API under ``/api/`` and the dashboard, over the same library.

Every API answer is what the CLI's ``--json`` prints for the same input (the endpoints run the CLI's
command functions, see :mod:`flopbill.web.commands`). Work runs in a bounded thread pool with a time
limit per request; request bodies are size-limited; every request is logged as one JSON line.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flopbill.cli.app import to_jsonable
from flopbill.errors import FlopbillError, InputError
from flopbill.web.commands import CommandSpec, command_spec, reject_file_references
from flopbill.web.errors import ErrorBody, error_body, request_error_body, scenario_input_error

ACCESS_LOG = logging.getLogger("flopbill.web.access")
ERROR_LOG = logging.getLogger("flopbill.web.error")
STATIC = Path(__file__).resolve().parent / "static"
#: Most Monte Carlo samples one ``/api/plan`` request may ask for (the time limit also applies).
MAX_SAMPLES = 100_000
Samples = Annotated[int | None, Query(ge=0, le=MAX_SAMPLES, description="Monte Carlo samples (0 = off)")]
Seed = Annotated[int | None, Query(ge=0, le=2**32 - 1, description="Monte Carlo seed")]
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body could not be parsed"},
    413: {"model": ErrorBody, "description": "request body too large"},
    422: {"model": ErrorBody, "description": "invalid input: the field, the value and what is allowed"},
    500: {"model": ErrorBody, "description": "internal error (no details)"},
    504: {"model": ErrorBody, "description": "the computation ran past the time limit"},
}


@dataclass(frozen=True)
class Limits:
    """Request limits: body bytes, seconds per light and heavy request, worker threads."""

    max_body_bytes: int = 1_000_000
    timeout_s: float = 10.0
    heavy_timeout_s: float = 30.0
    workers: int = 4


def _error(status: int, body: ErrorBody) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


def _internal() -> JSONResponse:
    return _error(500, ErrorBody(error="internal", message="internal error; the server log has details"))


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: answer 413 when a request body exceeds ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except* _TooLarge:  # middleware task groups may wrap it in an ExceptionGroup
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = ErrorBody(error="request", message=f"request body over {self.max_bytes} bytes")
        response = _error(413, body)
        await response(scope, receive, send)


def _access_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Awaitable[Response]:
    async def run() -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            record = {
                "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "method": request.method,
                "path": request.url.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1e3, 3),
                "client": request.client.host if request.client else None,
            }
            ACCESS_LOG.info(json.dumps(record))

    return run()


class Runner:
    """Runs blocking work in a bounded thread pool with a time limit; maps errors to responses."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="flopbill-web")

    async def __call__(self, work: Callable[[], Any], heavy: bool = False, html: bool = False) -> Response:
        timeout = self.limits.heavy_timeout_s if heavy else self.limits.timeout_s
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        future = loop.run_in_executor(self.pool, functools.partial(ctx.run, work))
        try:
            payload = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return _error(504, ErrorBody(error="timeout", message=f"computation ran past {timeout:g} s"))
        except FlopbillError as exc:
            return _error(422, error_body(exc))
        except Exception:
            ERROR_LOG.exception("internal error")
            return _internal()
        return HTMLResponse(payload) if html else JSONResponse(payload)


def _command_specs() -> dict[str, CommandSpec]:
    from flopbill.cli import api as api_cli
    from flopbill.cli import catalog as catalog_cli
    from flopbill.cli import model as model_cli
    from flopbill.cli import serve as serve_cli
    from flopbill.cli import train as train_cli

    serve_drop = ("search", "rps", "slo_ttft", "slo_tpot", "slo_percentile", "top")
    return {
        "gpus": command_spec("gpus", catalog_cli.gpus),
        "models": command_spec("models", catalog_cli.list_models),
        "prices": command_spec("prices", catalog_cli.list_prices),
        "model": command_spec("model", model_cli.model_command),
        "train": command_spec("train", train_cli.train),
        "serve": command_spec("serve", serve_cli.serve, drop=serve_drop),
        "serve_capacity": command_spec("serve_capacity", serve_cli.serve, fixed={"search": False}),
        "serve_search": command_spec("serve_search", serve_cli.serve, fixed={"search": True}),
        "api_pricing": command_spec("api_pricing", api_cli.api_command),
    }


def _add_command(
    app: FastAPI, run: Runner, path: str, spec: CommandSpec, summary: str, *, get: bool, heavy: bool
) -> None:
    model = spec.request_model()

    async def endpoint(body: Any) -> Response:
        values = body.model_dump(exclude_unset=True)
        reject_file_references(values)
        return await run(lambda: spec.run(values), heavy=heavy)

    endpoint.__annotations__ = {"body": Annotated[model, Query()] if get else model, "return": Response}
    endpoint.__name__ = spec.name
    route = app.get if get else app.post
    route(path, summary=summary, description=spec.function.__doc__ or summary, responses=ERROR_RESPONSES)(
        endpoint
    )


def _plan_work(text: str, is_json: bool, samples: int | None, seed: int | None) -> Any:
    """Return ``flopbill plan --json`` of the scenario in ``text`` (YAML, or JSON when ``is_json``)."""
    return to_jsonable(_project(text, is_json, samples, seed))


def _report_work(text: str, is_json: bool, samples: int | None, seed: int | None) -> str:
    """Return the HTML report (``flopbill plan --html``) of the scenario in ``text``."""
    from flopbill.report import render_html

    return str(render_html(_project(text, is_json, samples, seed)))


def _project(text: str, is_json: bool, samples: int | None, seed: int | None) -> Any:
    from flopbill.scenario.loader import ScenarioError, parse_scenario_text
    from flopbill.scenario.projection import project

    if is_json:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError("scenario", text[:80], f"a JSON object ({exc})") from None
        text = yaml.safe_dump(data, sort_keys=False)
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            data = None  # parse_scenario_text names the line
    reject_file_references(data)
    try:
        scenario, _ = parse_scenario_text(text, "scenario")
    except ScenarioError as exc:
        raise scenario_input_error(exc, data) from None
    return project(scenario, samples=samples, seed=seed)


async def _scenario_body(request: Request) -> tuple[str, bool] | Response:
    """Return the scenario text and whether it is JSON, or a 422 answer when it is not UTF-8."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return _error(422, ErrorBody(error="request", message="scenario: the body is not UTF-8 text"))
    is_json = request.headers.get("content-type", "").split(";")[0].strip() == "application/json"
    return text, is_json


_PLAN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
        "description": "a scenario (see examples/): YAML text, or the same document as JSON",
    }
}


def create_app(token: str | None = None, limits: Limits | None = None) -> FastAPI:
    """Return the web application; with ``token``, ``/api/`` requires ``Authorization: Bearer <token>``."""
    from flopbill import __version__

    limits = limits or Limits()
    app = FastAPI(
        title="flopbill",
        version=__version__,
        description="What AI costs, over HTTP: each endpoint answers what the CLI's --json prints.",
        docs_url="/api/docs",
        redoc_url=None,
    )
    run = Runner(limits)
    app.state.runner = run

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, request_error_body(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, ErrorBody(error="request", message=str(exc.detail)))

    @app.exception_handler(FlopbillError)
    async def _flopbill(request: Request, exc: FlopbillError) -> JSONResponse:
        return _error(422, error_body(exc))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        ERROR_LOG.exception("internal error")
        return _internal()

    if token:

        @app.middleware("http")
        async def _auth(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            given = request.headers.get("authorization", "")
            api = request.url.path.startswith("/api/") and request.url.path != "/api/health"
            if api and not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return _error(401, ErrorBody(error="auth", message="missing or wrong bearer token"))
            return await call_next(request)

    app.middleware("http")(_access_middleware)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    _routes(app, run)
    return app


def _routes(app: FastAPI, run: Runner) -> None:
    specs = _command_specs()
    table = [
        ("/api/catalog/gpus", "gpus", "Accelerators (dense peak FLOP/s, memory, bandwidth)", True, False),
        ("/api/catalog/models", "models", "Model architectures", True, False),
        ("/api/catalog/prices", "prices", "GPU-hour prices with dates and sources", True, False),
        ("/api/model", "model", "Model arithmetic: parameters, FLOPs/token, memory", False, False),
        ("/api/train", "train", "Training compute, time, cost and energy", False, True),
        ("/api/serve", "serve", "Serving one configuration: TTFT, TPOT, throughput, cost", False, False),
        ("/api/serve/capacity", "serve_capacity", "Serving capacity for a request rate", False, True),
        ("/api/serve/search", "serve_search", "Search accelerators × TP × precision × batch", False, True),
        ("/api/api-pricing", "api_pricing", "Workload cost on hosted model APIs", False, False),
    ]
    for path, key, summary, get, heavy in table:
        _add_command(app, run, path, specs[key], summary, get=get, heavy=heavy)

    @app.post(
        "/api/plan", summary="Project a product scenario", openapi_extra=_PLAN_BODY, responses=ERROR_RESPONSES
    )
    async def plan(
        request: Request,
        samples: Samples = None,
        seed: Seed = None,
    ) -> Response:
        """Project a scenario month by month (``flopbill plan --json``): YAML or JSON body."""
        body = await _scenario_body(request)
        if isinstance(body, Response):
            return body
        text, is_json = body
        return await run(lambda: _plan_work(text, is_json, samples, seed), heavy=True)

    @app.post(
        "/api/plan/report",
        summary="The HTML report of a scenario",
        openapi_extra=_PLAN_BODY,
        responses={**ERROR_RESPONSES, 200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
        response_class=HTMLResponse,
    )
    async def plan_report(request: Request, samples: Samples = None, seed: Seed = None) -> Response:
        """The self-contained HTML report of a scenario (``flopbill plan --html``): YAML or JSON body."""
        body = await _scenario_body(request)
        if isinstance(body, Response):
            return body
        text, is_json = body
        return await run(lambda: _report_work(text, is_json, samples, seed), heavy=True, html=True)

    @app.get("/api/health", summary="Liveness", responses=ERROR_RESPONSES)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    _dashboard_routes(app)


def _dashboard_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return RedirectResponse("/product")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    for page in ("product", "engineer"):
        app.get(f"/{page}", include_in_schema=False)(_static_page(page))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> Response:
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="text/javascript")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return _error(404, ErrorBody(error="request", message=f"no static file {name!r}"))
        return FileResponse(path)


def _static_page(page: str) -> Callable[[], Awaitable[Response]]:
    async def serve_page() -> Response:
        return FileResponse(STATIC / f"{page}.html")

    serve_page.__name__ = f"page_{page}"
    return serve_page
