"""Disaggregated serving: separate prefill and decode pools with the KV cache sent over the network.

Prefill and decode run on different replicas (Zhong et al. 2024, "DistServe", §2-3; Patel et al. 2024,
"Splitwise"): decode steps no longer share the GPU with prompts, so TPOT is the plain decode step, and
each pool is sized for its own work. For a request rate ``λ``:

* prefill pool (``tp_p`` GPUs per replica): a replica prefills prompts back to back, ``p`` replica-seconds
  each (compute + TP communication; weights amortized over the prompts of a chunk), so
  ``replicas_p = ceil(λ·p / utilization)``;
* decode pool (``tp_d`` GPUs, batch ``B``): ``d = O_total·T/(B·τ)`` replica-seconds per request,
  ``replicas_d = ceil(λ·d / utilization)``;
* KV transfer: the prompt's KV cache (all layers) leaves the prefill replica through its GPUs' network
  links, ``KV(I) / (tp_p · scale_out_one_way)``, added to TTFT; the network figure is the per-GPU NIC
  bandwidth of the accelerator's topology data (unknown → not computed, an error);
* TTFT = a lone prompt's prefill + transfer (queueing not included); TPOT = ``T/τ``;
* cost per request ``= (replicas_p·tp_p + replicas_d·tp_d) · price / 3600 / λ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flopbill.catalog.efficiency import EngineProfile, HardwareEfficiency
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.dtypes import Dtype, bytes_per_value
from flopbill.errors import DoesNotFitError, InputError
from flopbill.estimate.serving.deployment import (
    ServingOptions,
    compute_dtype,
    device_arrays,
    precision_arrays,
    runtime_arrays,
    spec_arrays,
    validate_options,
)
from flopbill.estimate.serving.metrics import WorkloadArrays, one_prompt_prefill, serving_metrics
from flopbill.estimate.serving.step import ModelTerms, kv_bytes_per_sequence, model_terms


@dataclass(frozen=True)
class DisaggregatedFleet:
    """Both pools for one request rate (SI units; replicas of ``tp_*`` GPUs)."""

    prefill_replicas: int
    decode_replicas: int
    prefill_tp: int
    decode_tp: int
    decode_batch: int
    gpus: int
    ttft_s: float
    kv_transfer_s: float
    tpot_s: float
    prefill_s_per_request: float
    decode_s_per_request: float
    cost_usd_per_request: float


def disaggregated_fleet(
    m: ModelSpec,
    acc: Accelerator,
    eff: HardwareEfficiency,
    engine: EngineProfile,
    input_tokens: float,
    output_tokens: float,
    rps: float,
    prefill: ServingOptions,
    decode: ServingOptions,
    price_usd_per_gpu_hour: float,
    utilization: float = 1.0,
) -> DisaggregatedFleet:
    """Return the prefill and decode pools serving ``rps`` requests/s (see the module docstring).

    ``prefill`` and ``decode`` are the two pools' deployments (TP, formats; ``decode.batch`` is the decode
    batch, ``None`` the largest that fits). Per-request options (samples, reasoning multiplier, prefix
    hits, speculation) are read from ``decode``.
    """
    if not 0.0 < rps < float("inf") or not 0.0 < utilization <= 1.0:
        raise InputError("rps/utilization", (rps, utilization), "a positive rate and a fraction in (0, 1]")
    validate_options(m, acc, prefill)
    validate_options(m, acc, decode)
    t = model_terms(m)
    wl = WorkloadArrays(
        input_tokens, output_tokens, decode.prefix_hit_rate, decode.n_samples, decode.reasoning_multiplier
    )
    dev_p = device_arrays(acc, compute_dtype(prefill.weights, prefill.activations), eff, prefill.tp)
    prec_p = precision_arrays(prefill.weights, prefill.kv, prefill.activations)
    rt_p = runtime_arrays(engine, prefill.attention_dp)
    pre = one_prompt_prefill(t, dev_p, prec_p, rt_p, prefill.tp, input_tokens, decode.prefix_hit_rate)
    dev_d = device_arrays(acc, compute_dtype(decode.weights, decode.activations), eff, decode.tp)
    prec_d = precision_arrays(decode.weights, decode.kv, decode.activations)
    rt_d = runtime_arrays(engine, decode.attention_dp)
    spec = spec_arrays(m, decode.spec_k, decode.spec_acceptance, decode.draft)
    probe = serving_metrics(t, dev_d, prec_d, rt_d, decode.tp, 1.0, wl, spec)
    max_b = int(probe.max_batch)
    batch = max_b if decode.batch is None else decode.batch
    if max_b < 1 or batch > max_b:
        raise DoesNotFitError(
            f"decode pool: {batch if decode.batch else 'one'} sequence(s) of {m.id} do not fit on {acc.id} "
            f"at `tp` {decode.tp} (at most {max_b}); raise the decode TP or quantize"
        )
    mt = serving_metrics(t, dev_d, prec_d, rt_d, decode.tp, float(batch), wl, spec)
    transfer = kv_transfer_s(t, dev_p.scale_out_bidir_bytes_per_s, input_tokens, prefill.kv, prefill.tp)
    if math.isnan(transfer):
        raise InputError(
            "gpu", acc.id, "an accelerator whose per-GPU network bandwidth is known (KV transfer)"
        )
    p_s, d_s = float(pre.gpu_s_per_request), float(mt.decode_s_per_request)
    n_p = math.ceil(rps * p_s / utilization)
    n_d = math.ceil(rps * d_s / utilization)
    gpus = n_p * prefill.tp + n_d * decode.tp
    return DisaggregatedFleet(
        prefill_replicas=n_p,
        decode_replicas=n_d,
        prefill_tp=prefill.tp,
        decode_tp=decode.tp,
        decode_batch=batch,
        gpus=gpus,
        ttft_s=float(pre.ttft_s) + transfer,
        kv_transfer_s=transfer,
        tpot_s=float(mt.tpot_s),
        prefill_s_per_request=p_s,
        decode_s_per_request=d_s,
        cost_usd_per_request=gpus * price_usd_per_gpu_hour / 3600.0 / rps,
    )


def kv_transfer_s(
    t: ModelTerms, scale_out_bidir_bytes_per_s: float, input_tokens: float, kv: Dtype | None, tp: int
) -> float:
    """Return seconds to send a prompt's KV cache from the prefill replica: ``KV(I) / (tp · bidir/2)``.

    Each of the replica's ``tp`` GPUs sends its shard through its own NIC, one direction of the link.
    NaN when the network bandwidth is unknown.
    """
    kv_b = float(np.asarray(kv_bytes_per_sequence(t, input_tokens, bytes_per_value(kv or Dtype.BF16))))
    return kv_b / (tp * float(scale_out_bidir_bytes_per_s) / 2.0)
