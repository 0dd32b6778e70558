"""``flopbill serve-local``: an OpenAI-compatible streaming server over a random-weight torch transformer.

Endpoints: ``POST /v1/completions`` and ``POST /v1/chat/completions`` (``stream: true`` sends
Server-Sent Events, ``data: {chunk}`` … ``data: [DONE]``, with a final ``usage`` chunk when
``stream_options.include_usage`` is set, as the OpenAI API does), ``GET /v1/models``, and
``GET /flopbill/log`` (the server's own per-request timings). Generation is continuous batching
(:mod:`flopbill.measure.engine`). Binds to loopback by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from flopbill.errors import FlopbillError
from flopbill.measure.engine import Engine, GenRequest, ServerLogEntry, detokenize, engine_stats, tokenize


def _prompt_text(body: dict[str, Any], chat: bool) -> str:
    if chat:
        msgs = body.get("messages") or []
        return " ".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict))
    prompt = body.get("prompt", "")
    return " ".join(prompt) if isinstance(prompt, list) else str(prompt)


def _chunk(kind: str, rid: str, model: str, text: str | None, finish: str | None) -> dict[str, Any]:
    if kind == "chat":
        delta = {} if text is None else {"content": text}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish}
        obj = "text_completion"
    return {"id": rid, "object": obj, "created": int(time.time()), "model": model, "choices": [choice]}


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"data: {text}\n\n".encode()


class LocalServer:
    """The Starlette app around one :class:`Engine`; ``log_path`` appends one JSON line per request."""

    def __init__(
        self, engine: Engine, model_name: str = "flopbill-local", log_path: Path | None = None
    ) -> None:
        self.engine = engine
        self.model_name = model_name
        self.log_path = log_path
        self.entries: list[ServerLogEntry] = []
        self.app = Starlette(
            routes=[
                Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/flopbill/log", self.log, methods=["GET"]),
            ],
            lifespan=self._lifespan,
        )
        self.asgi = _stamp_arrival(self.app)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        sys.setswitchinterval(0.0005)  # hand the GIL back to the event loop quickly between torch ops
        self.engine.start()
        try:
            yield
        finally:
            self.engine.stop()

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model_name, "object": "model"}]})

    async def log(self, request: Request) -> Response:
        engine = self.engine.entries()
        return JSONResponse(
            {
                "summary": engine_stats(self.entries),
                "requests": [e.as_dict() for e in self.entries],
                "engine_summary": engine_stats(engine),
            }
        )

    async def completions(self, request: Request) -> Response:
        return await self._generate(request, "completions")

    async def chat(self, request: Request) -> Response:
        return await self._generate(request, "chat")

    async def _generate(self, request: Request, kind: str) -> Response:
        arrival_s = float(request.scope.get("state", {}).get("arrival_s") or time.perf_counter())
        try:
            body = await request.json()
            max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
            if max_tokens < 1:
                raise ValueError("max_tokens must be ≥ 1")
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": {"message": f"bad request: {exc}"}}, status_code=400)
        prompt = tokenize(_prompt_text(body, kind == "chat"), self.engine.spec.vocab_size)
        loop = asyncio.get_running_loop()
        req = GenRequest(prompt, max_tokens, loop, asyncio.Queue(), arrival_s=arrival_s)
        try:
            self.engine.submit(req)
        except FlopbillError as exc:
            return JSONResponse({"error": {"message": str(exc)}}, status_code=400)
        rid = f"cmpl-{uuid.uuid4().hex[:16]}"
        usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))
        if body.get("stream"):
            stream = self._stream(req, kind, rid, usage_wanted)
            return StreamingResponse(stream, media_type="text/event-stream")
        tokens = [t async for t in self._tokens(req)]
        text = "".join(detokenize(t) for t in tokens)
        choice: dict[str, Any] = (
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
            if kind == "chat"
            else {"index": 0, "text": text, "finish_reason": "length"}
        )
        return JSONResponse(
            {
                "id": rid,
                "object": "chat.completion" if kind == "chat" else "text_completion",
                "model": self.model_name,
                "choices": [choice],
                "usage": self._usage(req),
            }
        )

    @staticmethod
    def _usage(req: GenRequest) -> dict[str, int]:
        n_in = len(req.prompt_tokens)
        return {
            "prompt_tokens": n_in,
            "completion_tokens": req.generated,
            "total_tokens": n_in + req.generated,
        }

    async def _tokens(self, req: GenRequest) -> AsyncIterator[int]:
        while True:
            tok = await req.out.get()
            if tok is None:
                return
            yield tok

    async def _stream(self, req: GenRequest, kind: str, rid: str, usage: bool) -> AsyncIterator[bytes]:
        if kind == "chat":
            yield _sse(
                {
                    **_chunk(kind, rid, self.model_name, None, None),
                    "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}],
                }
            )
        first = last = 0.0
        async for tok in self._tokens(req):
            yield _sse(_chunk(kind, rid, self.model_name, detokenize(tok), None))
            last = time.perf_counter()
            first = first or last
        self._record(req, first, last)
        yield _sse(_chunk(kind, rid, self.model_name, None if kind == "chat" else "", "length"))
        if usage:
            yield _sse(
                {
                    "id": rid,
                    "object": "chunk",
                    "model": self.model_name,
                    "choices": [],
                    "usage": self._usage(req),
                }
            )
        yield _sse("[DONE]")

    def _record(self, req: GenRequest, first_s: float, last_s: float) -> None:
        """Log the HTTP-level timing of a streamed request: arrival of the request → first and last
        content chunk handed to the connection (server clock)."""
        if not first_s:
            return
        entry = ServerLogEntry(
            len(req.prompt_tokens), req.generated, first_s - req.arrival_s, last_s - req.arrival_s
        )
        self.entries.append(entry)
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry.as_dict()) + "\n")


def _stamp_arrival(app: Any) -> Any:
    """Wrap an ASGI app so each HTTP request records its arrival time (``scope["state"]["arrival_s"]``)
    the moment the server hands it over, before routing and before the body is read."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            scope.setdefault("state", {})["arrival_s"] = time.perf_counter()
        await app(scope, receive, send)

    return wrapped


def loopback_only(host: str) -> None:
    """Raise unless ``host`` is a loopback address (the server never listens beyond this machine)."""
    from flopbill.errors import InputError

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError("--host", host, "a loopback address (127.0.0.1, ::1 or localhost)")


class ServerThread:
    """Run an ASGI app with uvicorn on a loopback port in a background thread (``with`` block).

    ``port=0`` picks a free port; :attr:`url` is the base URL once started.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import threading

        import uvicorn

        loopback_only(host)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, name="flopbill-http", daemon=True)
        self.host = host
        self.url = ""

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
