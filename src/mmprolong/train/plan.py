"""Model FLOPs (for MFU) and a per-GPU memory / step-time plan for (model, length, GPUs, SP degree, checkpointing).

FLOPs count the model's matmuls (x3 for forward + backward) including causal attention over each packed sample
and the vision tower's window / full attention, and the LM head only over the answer tokens the chunked loss
projects; recomputation from checkpointing is not counted (MFU convention).
Memory is an analytic estimate (FSDP2 full sharding with fp32 master weights, gradients and AdamW states;
bf16 compute; activations of one micro-batch); `bench/train.py` prints it beside measured peaks on a GPU.
Host memory at load: rank 0 of each node reads (or initialises) one fp32 copy; the other ranks build on the meta
device and receive only their shards (`distributed.shard_from_rank0`), so a node holds about one model copy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

GIB = 2**30

# Dense bf16 tensor-core peaks (FLOP/s), by a substring of torch.cuda.get_device_name().
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "H800": 989e12, "H20": 148e12, "A100": 312e12, "A800": 312e12,
             "L40S": 362e12, "B200": 2250e12, "GH200": 989e12}


def device_peak_flops(device: torch.device | str) -> float | None:
    import torch   # here, not at the top: `mmprolong plan` imports this module and needs no torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    name = torch.cuda.get_device_name(dev)
    for key in sorted(PEAK_BF16, key=len, reverse=True):
        if key in name:
            return PEAK_BF16[key]
    return None


def _text_dims(tc) -> dict:
    hd = getattr(tc, "head_dim", None) or tc.hidden_size // tc.num_attention_heads
    return dict(h=tc.hidden_size, L=tc.num_hidden_layers, nh=tc.num_attention_heads, nkv=tc.num_key_value_heads,
                hd=hd, I=tc.intermediate_size, V=tc.vocab_size)


def text_layer_params(tc) -> int:
    d = _text_dims(tc)
    attn = d["h"] * d["nh"] * d["hd"] * 2 + d["h"] * d["nkv"] * d["hd"] * 2
    return attn + 3 * d["h"] * d["I"]


def _vision_parts(vc) -> tuple[int, int, int]:
    """Parameters of one vision block, of the patch mergers (the final one and Qwen3-VL's deepstack ones, each run
    on merged tokens) and of the patch embedding. Qwen2.5-VL's block MLP is gated (3 matrices), Qwen3-VL's is not
    (2)."""
    hv, iv = vc.hidden_size, vc.intermediate_size
    m2 = vc.spatial_merge_size ** 2
    deep = len(getattr(vc, "deepstack_visual_indexes", None) or [])
    mlp_mats = 2 if getattr(vc, "deepstack_visual_indexes", None) is not None else 3
    block = 4 * hv * hv + mlp_mats * hv * iv
    mergers = (1 + deep) * ((hv * m2) ** 2 + hv * m2 * vc.out_hidden_size)
    embed = vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2 * hv
    return block, mergers, embed


def vision_params(vc) -> int:
    block, mergers, embed = _vision_parts(vc)
    pos = (getattr(vc, "num_position_embeddings", 0) or 0) * vc.hidden_size  # Qwen3-VL's learned position table
    return vc.depth * block + mergers + embed + pos


def step_flops(tc, vc, seq_lens: list[int], patches_per_image: list[int], n_targets: int | None = None) -> float:
    """Training FLOPs (forward + backward) of one packed sequence. The LM head counts only the `n_targets` tokens
    the chunked loss projects onto the vocabulary (default: every token, as a plain full-logits loss would)."""
    d = _text_dims(tc)
    tokens = sum(seq_lens)
    projected = tokens if n_targets is None else n_targets
    attn = sum(d["L"] * 2 * s * s * d["nh"] * d["hd"] for s in seq_lens)  # causal: half of 4 s^2 n d
    f = 6 * d["L"] * text_layer_params(tc) * tokens + 6 * d["h"] * d["V"] * projected + 3 * attn
    if patches_per_image:
        hv = vc.hidden_size
        p_total = sum(patches_per_image)
        window = (getattr(vc, "window_size", 0) // vc.patch_size) ** 2
        full_idx = getattr(vc, "fullatt_block_indexes", None)
        n_full = len(full_idx) if full_idx is not None else vc.depth
        n_win = vc.depth - n_full if window else 0
        n_full = vc.depth - n_win
        vattn = sum(4 * p * p * hv * n_full + 4 * p * min(p, window) * hv * n_win for p in patches_per_image)
        block, mergers, embed = _vision_parts(vc)
        # blocks on every patch, mergers on merged tokens (patches / merge^2), the patch embedding without an input
        # gradient (pixels): forward + weight gradient only
        f += (6 * vc.depth * block + 6 * mergers / vc.spatial_merge_size ** 2 + 4 * embed) * p_total + 3 * vattn
    return float(f)


@dataclass
class Plan:
    model: str
    length: int
    gpus: int
    sp: int
    checkpointing: bool
    gpu_mem_gib: float
    params_b: float
    states_gib: float
    working_params_gib: float
    activations_gib: float
    loss_gib: float
    total_gib: float
    fits: bool
    step_seconds: float
    tokens_per_s_per_gpu: float
    assumed_mfu: float
    host_load_gib_per_node: float = 0.0  # rank 0's one fp32 copy while the weights are broadcast
    buffers_gib: float = 0.0  # FSDP gradient reduce buffers + Ulysses all-to-all buffers
    raw_gib: float = 0.0  # everything above, without the CUDA context and allocator rounding

    def to_markdown(self) -> str:
        rows = [("model", self.model), ("length", f"{self.length:,}"), ("GPUs", self.gpus), ("SP degree", self.sp),
                ("checkpointing", self.checkpointing), ("parameters", f"{self.params_b:.2f} B"),
                ("sharded states (fp32 weights, grads, AdamW)", f"{self.states_gib:.1f} GiB"),
                ("unsharded bf16 working weights", f"{self.working_params_gib:.1f} GiB"),
                ("activations", f"{self.activations_gib:.1f} GiB"), ("loss chunk", f"{self.loss_gib:.2f} GiB"),
                ("gradient reduce + all-to-all buffers", f"{self.buffers_gib:.2f} GiB"),
                ("total per GPU", f"{self.total_gib:.1f} GiB of {self.gpu_mem_gib:.0f}"),
                ("fits", "yes" if self.fits else "NO"),
                ("host memory per node at load (rank 0 reads once, others get shards)",
                 f"{self.host_load_gib_per_node:.1f} GiB"),
                (f"step time per sequence (MFU {self.assumed_mfu:.0%})", f"{self.step_seconds:.1f} s"),
                ("tokens/s per GPU", f"{self.tokens_per_s_per_gpu:,.0f}")]
        return "| item | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)

    def as_dict(self) -> dict:
        return asdict(self)


def activation_bytes(config, length: int, sp: int = 1, checkpointing: bool = True, image_fraction: float = 0.9,
                     act_bytes: int = 2, activation_offload: bool = False) -> dict:
    """Bytes of activations on one rank for one packed sequence, by part (see `plan`)."""
    tc, vc = config.get_text_config(), config.vision_config
    d = _text_dims(tc)
    b = act_bytes
    s = length / sp
    kv = d["nkv"] * d["hd"]
    q = d["nh"] * d["hd"]
    # one decoder layer's tensors kept for its backward: two norms (in, out), q/k/v and their rotated copies, the
    # attention output and its projection, the residual, gate/up/activation/product, down
    layer_fwd = s * b * (6 * d["h"] + 2 * q + 4 * kv + 4 * d["I"])
    # its backward's own buffers alive at the peak: gradients of the MLP's gate and up outputs, of q, k/v and the
    # attention output (fitted against tensor counts of CPU runs: tests/train/test_plan_measured.py)
    layer_bwd = s * b * (2 * d["I"] + q + kv + d["h"])
    patches = length * image_fraction * vc.spatial_merge_size ** 2 / sp
    hv, iv = vc.hidden_size, vc.intermediate_size
    vis_fwd = patches * b * (8 * hv + 4 * iv)
    vis_bwd = patches * b * (2 * iv + 2 * hv)
    parts = {}
    if checkpointing:
        kept = s * b * d["h"] * d["L"] + patches * b * hv * vc.depth  # each layer's / block's input
        parts["checkpointed inputs"] = s * b * d["h"] if activation_offload else kept  # offload: one in flight
        parts["recomputed layer"] = max(layer_fwd + layer_bwd, vis_fwd + vis_bwd)
    else:
        parts["layers"] = layer_fwd * d["L"] + vis_fwd * vc.depth + max(layer_bwd, vis_bwd)
    # embeddings, the final norm's output and the hidden state for the loss, the residual gradient (fp32 where the
    # stream is accumulated)
    parts["stream"] = s * (b * d["h"] * 3 + 4 * d["h"])
    # the step's inputs: pixel values in the compute dtype, ids and labels (int64), mRoPE positions (4 x int64)
    patch_dim = vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2
    parts["inputs"] = patches * patch_dim * b + s * 48
    return parts


def plan(config, name: str, length: int, gpus: int, sp: int = 1, checkpointing: bool = True,
         gpu_mem_gib: float = 80.0, peak_flops: float = 989e12, mfu: float = 0.4, cpu_offload: bool = False,
         loss_chunk: int = 4096, image_fraction: float = 0.9, target_fraction: float = 0.01,
         state_bytes: float = 16.0, fsdp: bool = True, act_bytes: int = 2, activation_offload: bool = False,
         chunked_loss: bool = True, cuda_context_gib: float = 2.0) -> Plan:
    """Per-GPU memory and time for one packed sequence of `length` tokens per SP group.

    `image_fraction`: share of tokens that are image tokens (document pages); `target_fraction`: share that are
    answer tokens (the only ones the chunked loss projects onto the vocabulary). `state_bytes` per parameter: 16 for
    fp32 weights, gradients and AdamW moments; 4 for bf16 weights and gradients without an optimizer (what
    bench/train.py times). `fsdp=False`: the weights are used in place, no unsharded working copy.
    `act_bytes`: the compute dtype's size (2 for bf16; 4 for the fp32 CPU runs the planner is checked against).
    `activation_offload`: checkpointed layer inputs live in host memory. `chunked_loss=False`: full logits over every
    token (a plain `labels` loss). Memory counts: sharded states; FSDP's unsharded working copy (root + current and
    prefetched unit) and its gradient reduce buffers (the unsharded embedding and LM head gradients in fp32 before
    the reduce-scatter); activations (`activation_bytes`: checkpointed inputs, the recomputed layer's forward and
    backward buffers, the residual stream); Ulysses' all-to-all send and receive buffers for one layer's q/k/v/out;
    the loss chunk's logits (bf16 and fp32), log-softmax and gradient. The CUDA context and allocator rounding are
    added last (`cuda_context_gib`, x1.1); `raw_gib` leaves them out (what a CPU tensor count measures)."""
    from .sp_degree import check_degree

    tc, vc = config.get_text_config(), config.vision_config
    d = _text_dims(tc)
    check_degree(sp, d["nh"], d["nkv"])
    if gpus % sp:
        raise ValueError(f"SP degree {sp} does not divide {gpus} GPUs")
    layer = text_layer_params(tc)
    tied = getattr(config, "tie_word_embeddings", False) or getattr(tc, "tie_word_embeddings", False)
    embed = d["h"] * d["V"] * (1 if tied else 2)
    total_params = d["L"] * layer + embed + vision_params(vc)
    states = 0.0 if cpu_offload else state_bytes * total_params / gpus
    vblock = 4 * vc.hidden_size ** 2 + 3 * vc.hidden_size * vc.intermediate_size
    working = 2 * (embed + 2 * max(layer, vblock)) if fsdp else 0.0  # root + current and prefetched unit
    grad_reduce = 4 * embed if fsdp and gpus > 1 else 0.0  # fp32 unsharded root gradients before reduce-scatter
    s = length / sp
    acts = sum(activation_bytes(config, length, sp, checkpointing, image_fraction, act_bytes,
                                activation_offload).values())
    a2a = 2 * s * act_bytes * (2 * d["nh"] * d["hd"] + 2 * d["nkv"] * d["hd"]) if sp > 1 else 0.0
    if chunked_loss:  # one chunk of answer rows: logits (+ their fp32 copy), log-softmax, gradient
        loss = min(loss_chunk, s * target_fraction) * d["V"] * (8 + (act_bytes if act_bytes < 4 else 0))
    else:  # full logits over every token, as transformers' `labels` loss: logits, fp32 copy, log-softmax, 2 grads
        loss = s * d["V"] * 16
    raw = states + working + grad_reduce + acts + a2a + loss
    total = raw * 1.1 + cuda_context_gib * GIB  # allocator fragmentation, CUDA context
    page = 8800  # patches of one 144-DPI page at Qwen2.5-VL-7B's max_pixels (~2.2K tokens x merge^2)
    n_img = int(length * image_fraction * vc.spatial_merge_size ** 2) // page
    flops = step_flops(tc, vc, [length], [page] * n_img, n_targets=int(length * target_fraction))
    step_s = flops / sp / (peak_flops * mfu)
    return Plan(model=name, length=length, gpus=gpus, sp=sp, checkpointing=checkpointing, gpu_mem_gib=gpu_mem_gib,
                params_b=total_params / 1e9, states_gib=states / GIB, working_params_gib=working / GIB,
                activations_gib=acts / GIB, loss_gib=loss / GIB, total_gib=total / GIB,
                fits=total / GIB <= gpu_mem_gib, step_seconds=step_s, tokens_per_s_per_gpu=length / sp / step_s,
                assumed_mfu=mfu, host_load_gib_per_node=4 * total_params / GIB,
                buffers_gib=(grad_reduce + a2a) / GIB, raw_gib=raw / GIB)
