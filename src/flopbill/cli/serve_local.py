"""``flopbill serve-local``: an OpenAI-compatible streaming server over a random-weight torch model."""

from __future__ import annotations

from pathlib import Path

import typer

from flopbill.catalog import resolve_model
from flopbill.cli.app import app, err_console
from flopbill.cli.measure import set_threads
from flopbill.measure.deps import require


@app.command("serve-local")
def serve_local(
    name: str = typer.Option("llama-3.2-1b", "--model", help="catalog model id, YAML file or config.json"),
    layers: int | None = typer.Option(2, "--layers", help="build only this many layers"),
    hidden: int | None = typer.Option(256, "--hidden", help="scale the hidden size down to this"),
    vocab: int | None = typer.Option(4096, "--vocab", help="use a smaller vocabulary"),
    host: str = typer.Option("127.0.0.1", "--host", help="loopback address to bind"),
    port: int = typer.Option(8000, "--port"),
    max_batch: int = typer.Option(8, "--max-batch", help="sequences decoded together (KV-cache slots)"),
    max_tokens: int = typer.Option(1024, "--max-tokens", help="prompt + output tokens per sequence"),
    log: Path | None = typer.Option(None, "--log", help="append the server's per-request timings (JSONL)"),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads"),
) -> None:
    """Serve a small random-weight transformer on /v1/completions and /v1/chat/completions (streaming)."""
    require("torch")
    require("uvicorn")
    from flopbill.measure.engine import Engine
    from flopbill.measure.server import LocalServer, loopback_only
    from flopbill.measure.torch_model import scaled_spec

    loopback_only(host)
    set_threads(threads)
    spec = scaled_spec(resolve_model(name), layers, hidden, vocab)
    server = LocalServer(Engine(spec, max_batch=max_batch, max_tokens=max_tokens), spec.id, log)
    err_console.print(
        f"serving {spec.name} ({spec.n_layers}×{spec.d_model}, random weights) on http://{host}:{port}"
    )
    import uvicorn

    uvicorn.run(server.asgi, host=host, port=port, log_level="warning")
