"""Pipeline parallelism for serving: layers split over ``pp`` stages of ``tp`` GPUs each.

How the engines run it (vLLM ``--pipeline-parallel-size``: one scheduler batch per "virtual engine",
``pp`` of them in flight; TensorRT-LLM ``pp_size`` with in-flight micro-batches):

* Stages: stage ``i`` holds ``ceil(L/pp)`` layers (the last one also the output head), their weights and
  their part of every sequence's KV cache. The slowest stage sets the pace; it is modelled as
  :func:`stage_model`, the last stage (``ceil(L/pp)`` layers + head; the embedding table is kept in it
  too, so its memory is over-counted by at most one ``V·d`` table).
* Decode: the ``B`` running sequences are split into ``M = min(pp, B)`` micro-batches of ``B/M``. A
  micro-batch's token passes every stage in turn and sends its activations ``(B/M)·q·d`` values to the
  next stage (``q`` tokens per sequence per step), so one decode iteration of every sequence takes
  ``TPOT = pp·s(B/M) + (pp − 1)·x(B/M)`` with ``s`` one stage's step (its own per-step overhead
  included) and ``x`` the point-to-point transfer (a speculative draft's step is added once). With
  ``M < pp`` (fewer sequences than stages) the other stages idle: the pipeline bubble, utilisation
  ``M/pp``. Decode throughput is ``B / TPOT``.
* Prefill: a prompt of ``n`` chunks flows through the stages chunk after chunk, so the stages overlap:
  ``TTFT = (n + pp − 1)/n · S + (pp − 1)·x(chunk)`` with ``S`` one stage's prefill of the whole prompt
  (GPipe's bubble formula, Huang et al. 2019, §2.2: ``(pp − 1)/(n + pp − 1)`` of the time idle). One
  chunk: no overlap, TTFT = the whole model's prefill; many chunks: close to ``S``, a ``pp``-fold speedup.
* The transfer runs over the scale-up interconnect when the ``tp·pp`` GPUs fit in one scale-up domain,
  else over the per-GPU network (:meth:`DeviceArrays.link_bidir_bytes_per_s`), one direction:
  ``x = tokens·d·bpv / (bidir/2) + latency``.

All functions are pure and broadcast over numpy arrays.
"""

from __future__ import annotations

import dataclasses
import math
from typing import cast

import numpy as np

from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.estimate.core.arrays import ArrayLike
from flopbill.estimate.serving.metrics import (
    Metrics,
    RuntimeArrays,
    WorkloadArrays,
    chunked_prefill_ttft_s,
    static_batch_ttft_s,
)
from flopbill.estimate.serving.step import DeviceArrays, ModelTerms, kernel_launch_time_s


def stage_layers(n_layers: int, pp: int) -> int:
    """Return the layers of the largest stage: ``ceil(n_layers / pp)`` (vLLM splits layers evenly)."""
    return math.ceil(n_layers / pp)


def stage_model(m: ModelSpec, pp: int) -> ModelSpec:
    """Return the slowest stage of ``m`` split over ``pp`` stages: the last one, as a model of its own.

    ``ceil(L/pp)`` layers; the leading dense layers of an MoE model sit in the first stages, so the last
    stage keeps ``max(0, n_dense − (L − L_stage))`` of them; sliding-window and chunked-attention layers
    are scaled in proportion (rounded up). Embedding and head stay (see the module docstring).
    """
    if pp < 1 or pp > m.n_layers:
        raise InputError("pp", pp, f"an integer from 1 to {m.id}'s {m.n_layers} layers")
    if pp == 1:
        return m
    layers = stage_layers(m.n_layers, pp)
    before = m.n_layers - layers

    def share(n: int) -> int:
        return min(layers, math.ceil(n * layers / m.n_layers))

    return m.model_copy(
        update={
            "n_layers": layers,
            "n_dense_layers": max(0, m.n_dense_layers - before),
            "sliding_window_layers": share(m.sliding_window_layers),
            "chunked_attention_layers": min(
                share(m.chunked_attention_layers), layers - share(m.sliding_window_layers)
            ),
        }
    )


def microbatches(batch: ArrayLike, pp: ArrayLike) -> ArrayLike:
    """Return the micro-batches in flight: ``min(pp, B)`` (at least one)."""
    b = np.asarray(batch, dtype=np.float64)
    return cast(ArrayLike, np.maximum(np.minimum(np.asarray(pp, dtype=np.float64), b), 1.0))


def stage_transfer_time_s(
    tokens: ArrayLike,
    d_model: ArrayLike,
    activation_bpv: ArrayLike,
    link_bidir_bytes_per_s: ArrayLike,
    latency_s: ArrayLike,
) -> ArrayLike:
    """Return seconds to send ``tokens`` hidden states to the next stage: ``n·d·bpv / (bidir/2) + lat``."""
    one_way = np.asarray(link_bidir_bytes_per_s, dtype=np.float64) / 2.0
    size = np.asarray(tokens, dtype=np.float64) * np.asarray(d_model) * np.asarray(activation_bpv)
    return cast(ArrayLike, size / one_way + np.asarray(latency_s, dtype=np.float64))


def pipeline_tpot_s(
    stage_step_s: ArrayLike,
    transfer_s: ArrayLike,
    pp: ArrayLike,
    tokens_per_step: ArrayLike = 1.0,
    draft_s: ArrayLike = 0.0,
) -> ArrayLike:
    """Return the time per output token under pipeline parallelism (s).

    ``(pp·s + (pp − 1)·x + d) / τ``: every micro-batch passes ``pp`` stage steps of ``s`` seconds and
    ``pp − 1`` transfers of ``x``; ``τ`` tokens per step and ``d`` the draft model's step when decoding
    speculatively (the draft runs once per step, not once per stage).
    """
    p = np.asarray(pp, dtype=np.float64)
    iteration = p * np.asarray(stage_step_s) + (p - 1.0) * np.asarray(transfer_s) + np.asarray(draft_s)
    return cast(ArrayLike, iteration / np.asarray(tokens_per_step, dtype=np.float64))


def pipeline_fill_factor(units: ArrayLike, pp: ArrayLike) -> ArrayLike:
    """Return ``(n + pp − 1) / n``: a stage's time on ``n`` units stretched by the pipeline fill (GPipe)."""
    n = np.maximum(np.asarray(units, dtype=np.float64), 1.0)
    return cast(ArrayLike, (n + np.asarray(pp, dtype=np.float64) - 1.0) / n)


def pipeline_metrics(
    stage: Metrics,
    t: ModelTerms,
    dev: DeviceArrays,
    rt: RuntimeArrays,
    wl: WorkloadArrays,
    activation_bpv: ArrayLike,
    tp: ArrayLike,
    pp: int,
    batch: ArrayLike,
    strict: bool = True,
) -> Metrics:
    """Return the replica's metrics from its slowest stage's (``stage``, computed at ``B/M`` sequences).

    ``batch`` is the replica's ``B``; ``t`` the stage's terms. TPOT and TTFT as in the module docstring;
    per-request replica-seconds: prefill ``p_stage`` (stages overlap on a stream of requests), decode
    ``gen·TPOT/B``; throughput per GPU divides by ``tp·pp`` GPUs. A static batch's TTFT is the stage's
    time for all ``B`` prompts stretched by the fill factor over all their chunks; under chunked prefill a
    joining prompt rides ``ceil(n/c)`` pipelined iterations of ``TPOT·τ`` (see
    :func:`flopbill.estimate.serving.metrics.chunked_prefill_ttft_s`).

    ``tp`` and ``batch`` broadcast (the search passes its grid). ``strict``: a ``tp·pp`` beyond the
    scale-up domain with an unknown network is an :class:`InputError`; without it those configurations
    get NaN times (the search marks them as not fitting).
    """
    gpus = np.asarray(tp, dtype=np.float64) * pp
    link = dev.link_bidir_bytes_per_s(gpus)
    if strict and not np.all(np.isfinite(np.asarray(link))):
        raise InputError(
            "pp",
            pp,
            f"tp·pp within one scale-up domain ({tp}·{pp} GPUs exceed it; the network bandwidth is unknown)",
        )
    batch = np.asarray(batch, dtype=np.float64)
    m_b = np.asarray(microbatches(batch, pp))
    micro = batch / m_b
    tau = np.asarray(stage.tokens_per_step, dtype=np.float64)
    lat = dev.allreduce_latency_s
    x_dec = stage_transfer_time_s(micro * tau, t.d_model, activation_bpv, link, lat)
    target = np.asarray(stage.step.total_s)
    draft = np.asarray(stage.step_s) - target
    tpot = np.asarray(pipeline_tpot_s(target, x_dec, pp, tau, draft))
    new = np.asarray(wl.input_tokens, dtype=np.float64) * (1.0 - np.asarray(wl.prefix_hit_rate))
    chunk = np.asarray(rt.prefill_chunk_tokens, dtype=np.float64)
    n_chunks = np.maximum(np.ceil(new / chunk), 1.0)
    x_pre = stage_transfer_time_s(np.minimum(new, chunk), t.d_model, activation_bpv, link, lat)
    fill = np.asarray(pipeline_fill_factor(n_chunks, pp))
    ttft = np.asarray(stage.ttft_s) * fill + (pp - 1.0) * x_pre
    gen = wl.generated_per_sequence
    decode_req = wl.output_total * tpot / batch
    prompts = batch / np.asarray(wl.n_samples, dtype=np.float64)
    chunk_overhead = rt.overhead_s_per_step + np.asarray(kernel_launch_time_s(t, rt.kernel_launch_s))
    static = static_batch_ttft_s(np.asarray(stage.prefill_s_per_request), prompts, new, chunk, chunk_overhead)
    prefill_req = np.asarray(stage.prefill_s_per_request)
    return dataclasses.replace(
        stage,
        batch=batch,
        fits=(batch >= 1.0) & (batch <= np.asarray(stage.max_batch)),
        ttft_s=ttft,
        tpot_s=tpot,
        tpot_loaded_s=tpot + batch / gen * prefill_req / np.asarray(wl.n_samples, dtype=np.float64),
        e2e_latency_s=ttft + np.maximum(gen - 1.0, 0.0) * tpot,
        step_s=tpot * tau,
        decode_s_per_request=decode_req,
        output_tokens_per_s_per_gpu=wl.output_total / (gpus * (prefill_req + decode_req)),
        decode_tokens_per_s_per_gpu=batch / (tpot * gpus),
        ttft_static_batch_s=static * np.asarray(pipeline_fill_factor(prompts * n_chunks, pp))
        + (pp - 1.0) * x_pre,
        ttft_chunked_s=chunked_prefill_ttft_s(tpot * tau, prefill_req, batch, new, chunk),
    )
