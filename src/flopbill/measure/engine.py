"""A small continuous-batching generation engine over :class:`~flopbill.measure.torch_model.TorchTransformer`.

One worker thread owns the model and a slot-based KV cache. Each iteration it admits waiting requests
into free slots (one prefill each, which yields the request's first token), then runs one decode step
for every running sequence at once (Orca-style iteration-level scheduling: Yu et al. 2022, "Orca: A
Distributed Serving System for Transformer-Based Generative Models", OSDI). Tokens go back to the
asyncio side through ``loop.call_soon_threadsafe``. Every request's own timings (arrival, first token,
last token, on the server's clock) are kept in :attr:`Engine.log`.

Tokenization is a stated stand-in: one token per whitespace-separated word (``crc32(word) mod vocab``);
generated token ``i`` is the text ``" w<i>"``. Generation runs to ``max_tokens`` (no end-of-sequence:
random weights).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import torch

from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.measure.torch_model import KVCache, TorchTransformer, build_model


def tokenize(text: str, vocab_size: int) -> list[int]:
    """Return one token id per whitespace-separated word (at least one token)."""
    words = text.split() or [""]
    return [zlib.crc32(w.encode()) % vocab_size for w in words]


def detokenize(token: int) -> str:
    """Return the text of one generated token."""
    return f" w{token}"


@dataclass(frozen=True)
class ServerLogEntry:
    """The server's own timing of one request (s, server clock)."""

    prompt_tokens: int
    output_tokens: int
    ttft_s: float
    e2e_s: float

    @property
    def tpot_s(self) -> float:
        """``(e2e − ttft) / (output − 1)`` (0 for one token)."""
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1) if self.output_tokens > 1 else 0.0

    def as_dict(self) -> dict[str, float]:
        """The entry as JSON-ready numbers."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "e2e_s": self.e2e_s,
        }


@dataclass
class GenRequest:
    """One generation request and the channel its tokens go back on."""

    prompt_tokens: list[int]
    max_tokens: int
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue[int | None]
    arrival_s: float = field(default_factory=time.perf_counter)
    first_token_s: float | None = None
    last_token_s: float | None = None
    generated: int = 0
    slot: int = -1
    last_token: int = 0
    entry: ServerLogEntry | None = None


class Engine:
    """Continuous batching over ``max_batch`` KV-cache slots of ``max_tokens`` tokens each."""

    def __init__(self, spec: ModelSpec, max_batch: int = 8, max_tokens: int = 1024, seed: int = 0) -> None:
        self.spec = spec
        self.max_tokens = max_tokens
        self.model: TorchTransformer = build_model(spec, seed=seed)
        self.cache: KVCache = self.model.new_cache(max_batch, max_tokens)
        self.slots: list[GenRequest | None] = [None] * max_batch
        self.waiting: queue.Queue[GenRequest] = queue.Queue()
        self.log: list[ServerLogEntry] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flopbill-engine", daemon=True)
        self._log_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker thread (requests still running get no more tokens)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def submit(self, req: GenRequest) -> None:
        """Queue a request; raise :class:`InputError` if it cannot fit one slot."""
        if len(req.prompt_tokens) + req.max_tokens > self.max_tokens:
            raise InputError(
                "prompt + max_tokens", len(req.prompt_tokens) + req.max_tokens, f"≤ {self.max_tokens} tokens"
            )
        self.waiting.put(req)

    def entries(self) -> list[ServerLogEntry]:
        """Return a copy of the per-request timing log."""
        with self._log_lock:
            return list(self.log)

    # worker side -----------------------------------------------------------------------------------------
    def _emit(self, req: GenRequest, token: int) -> None:
        now = time.perf_counter()
        if req.first_token_s is None:
            req.first_token_s = now
        req.last_token_s = now
        req.generated += 1
        req.last_token = token
        req.loop.call_soon_threadsafe(req.out.put_nowait, token)
        if req.generated >= req.max_tokens:
            self._finish(req)

    def _finish(self, req: GenRequest) -> None:
        entry = ServerLogEntry(
            prompt_tokens=len(req.prompt_tokens),
            output_tokens=req.generated,
            ttft_s=(req.first_token_s or req.arrival_s) - req.arrival_s,
            e2e_s=(req.last_token_s or req.arrival_s) - req.arrival_s,
        )
        req.entry = entry
        with self._log_lock:
            self.log.append(entry)
        req.loop.call_soon_threadsafe(req.out.put_nowait, None)
        self.slots[req.slot] = None

    def _admit(self) -> None:
        block = all(s is None for s in self.slots)
        while None in self.slots:
            try:
                req = self.waiting.get(timeout=0.02) if block else self.waiting.get_nowait()
            except queue.Empty:
                return
            block = False
            req.slot = self.slots.index(None)
            self.slots[req.slot] = req
            self._prefill(req)

    def _prefill(self, req: GenRequest) -> None:
        r = req.slot
        view = KVCache(
            [k[r : r + 1] for k in self.cache.keys],
            [v[r : r + 1] for v in self.cache.values],
            self.cache.lengths[r : r + 1],
        )
        view.lengths.zero_()
        logits = self.model(torch.tensor([req.prompt_tokens]), view)
        self._emit(req, int(logits[0, -1].argmax()))

    def _decode(self) -> None:
        active = [i for i, s in enumerate(self.slots) if s is not None]
        if not active:
            return
        n = max(active) + 1
        toks = torch.zeros(n, 1, dtype=torch.long)
        for i in range(n):
            s = self.slots[i]
            if s is None:
                self.cache.lengths[i] = 0
            else:
                toks[i, 0] = s.last_token
        logits = self.model(toks, self.cache.rows(n))
        best = logits[:, -1].argmax(dim=-1).tolist()
        for i in active:
            s = self.slots[i]
            if s is not None:
                self._emit(s, int(best[i]))

    def _run(self) -> None:
        with torch.inference_mode():
            while not self._stop.is_set():
                self._admit()
                self._decode()
                time.sleep(0)  # release the GIL so the HTTP event loop can take requests and send tokens


def engine_stats(entries: list[ServerLogEntry]) -> dict[str, Any]:
    """Return the mean TTFT/TPOT of the server's own log (s)."""
    if not entries:
        return {"requests": 0}
    multi = [e for e in entries if e.output_tokens > 1]
    return {
        "requests": len(entries),
        "mean_ttft_s": sum(e.ttft_s for e in entries) / len(entries),
        "mean_tpot_s": sum(e.tpot_s for e in multi) / len(multi) if multi else 0.0,
    }
