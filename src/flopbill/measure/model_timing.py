"""Time a real torch model (random weights, real KV cache) and put each time next to flopbill's prediction.

Phases: prefill of one prompt (logits of the last token only), one decode step of a batch at a context
length (the cache holds ``context`` tokens per sequence and the step attends over them), and one
training step (forward over every token, cross-entropy, backward, ``torch.optim.AdamW.step``). Each time
is the best of ``repeats`` runs after a warm-up (see :func:`flopbill.measure.timing.best_time_s`). On a
CUDA device every timed run ends with ``torch.cuda.synchronize()``, so the time covers the kernels, not
only their launch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from flopbill.catalog.profile import HardwareProfile
from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.measure.predict import Shape, predict
from flopbill.measure.timing import best_time_s
from flopbill.measure.torch_model import TorchTransformer, build_model

PREFILL_TOKENS = (256, 512, 1024)
DECODE_BATCHES = (1, 2, 4)
DECODE_CONTEXTS = (128, 512)
TRAIN_SHAPES = ((4, 128),)


@dataclass(frozen=True)
class TimedRow:
    """One measured shape with its prediction (s) and relative error ``predicted/measured − 1``."""

    phase: str
    batch: int
    tokens: int
    context_tokens: int
    measured_s: float
    predicted_s: float

    @property
    def error(self) -> float:
        """``predicted / measured − 1``."""
        return self.predicted_s / self.measured_s - 1.0


def device_sync(device: str) -> Callable[[], None] | None:
    """Return the function that waits for ``device``'s queued kernels (``None`` on a CPU)."""
    return torch.cuda.synchronize if device.startswith("cuda") else None


def _tokens(m: ModelSpec, batch: int, n: int, device: str) -> torch.Tensor:
    return torch.randint(0, m.vocab_size, (batch, n), device=device)


def time_prefill(model: TorchTransformer, n: int, repeats: int, device: str = "cpu") -> float:
    """Return the best time to prefill one ``n``-token prompt into an empty cache (s)."""
    cache = model.new_cache(1, n, device)
    toks = _tokens(model.spec, 1, n, device)

    def run() -> None:
        cache.lengths.zero_()
        model(toks, cache)

    with torch.inference_mode():
        return best_time_s(run, repeats=repeats, sync=device_sync(device))


def time_decode(
    model: TorchTransformer, batch: int, context: int, repeats: int, device: str = "cpu"
) -> float:
    """Return the best time of one decode step of ``batch`` sequences holding ``context`` tokens each (s)."""
    cache = model.new_cache(batch, context + 1, device)
    toks = _tokens(model.spec, batch, 1, device)

    def run() -> None:
        cache.lengths.fill_(context)
        model(toks, cache)

    with torch.inference_mode():
        return best_time_s(run, repeats=repeats, sync=device_sync(device))


def time_train_step(model: TorchTransformer, batch: int, n: int, repeats: int, device: str = "cpu") -> float:
    """Return the best time of one training step: forward, cross-entropy, backward, AdamW step (s)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    toks = _tokens(model.spec, batch, n + 1, device)

    def run() -> None:
        cache = model.new_cache(batch, n, device)
        logits = model(toks[:, :-1], cache, last_only=False)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), toks[:, 1:].reshape(-1))
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        opt.zero_grad(set_to_none=True)

    return best_time_s(run, repeats=repeats, sync=device_sync(device))


def default_shapes(
    prefill: Sequence[int] = PREFILL_TOKENS,
    batches: Sequence[int] = DECODE_BATCHES,
    contexts: Sequence[int] = DECODE_CONTEXTS,
    train: Sequence[tuple[int, int]] = TRAIN_SHAPES,
) -> list[Shape]:
    """Return the shapes ``measure model`` times by default."""
    shapes = [Shape("prefill", 1, n) for n in prefill]
    shapes += [Shape("decode", b, 1, c) for c in contexts for b in batches]
    shapes += [Shape("train_step", b, n) for b, n in train]
    return shapes


def time_shape(model: TorchTransformer, shape: Shape, repeats: int, device: str = "cpu") -> float:
    """Return the measured seconds of one shape."""
    if shape.phase == "prefill":
        return time_prefill(model, shape.tokens, repeats, device)
    if shape.phase == "decode":
        return time_decode(model, shape.batch, shape.context_tokens, 4 * repeats, device)
    return time_train_step(model, shape.batch, shape.tokens, max(2, repeats // 2), device)


def measure_model(
    m: ModelSpec,
    profile: HardwareProfile,
    shapes: Sequence[Shape] | None = None,
    repeats: int = 5,
    dtype: str = "fp32",
    device: str = "cpu",
) -> list[TimedRow]:
    """Build ``m`` with random weights, time every shape and predict it on ``profile``."""
    if (profile.device == "cuda") != device.startswith("cuda"):
        raise InputError(
            "--profile", profile.id, f"a profile measured on {device} (this one: {profile.device})"
        )
    model = build_model(m, dtype, device)
    rows = []
    for shape in shapes or default_shapes():
        measured = time_shape(model, shape, repeats, device)
        pred = predict(m, shape, profile, dtype)
        rows.append(
            TimedRow(shape.phase, shape.batch, shape.tokens, shape.context_tokens, measured, pred.total_s)
        )
    return rows
