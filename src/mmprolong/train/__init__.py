"""LongPT: long-context continued pretraining of Qwen2.5-VL / Qwen3-VL on mmprolong training shards.

config (typed TrainConfig) -> model (transformers' classes, mRoPE base / YaRN extension) -> data (shard order,
greedy packing by exact n_tokens) -> encode (TokenCounter ids + image processor pixels) -> pack (per-sample rope
positions [4, 1, L]) -> lm (vision + LM + chunked loss; Ulysses SP in ulysses, packed attention in varlen) ->
distributed (FSDP2) -> loop (AdamW, cosine, logs) -> checkpoint (exact resume, HF export); plan: FLOPs and memory.
Entry point: `mmprolong.train.loop.train(TrainConfig)`, or `mmprolong train`.
"""
