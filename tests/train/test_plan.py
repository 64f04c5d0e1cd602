import pytest

from mmprolong.cli.main import main
from mmprolong.train.model import preset_config
from mmprolong.train.plan import plan, step_flops


def test_memory_falls_with_more_gpus_and_sp_and_checkpointing():
    c = preset_config("qwen2.5-vl-7b")
    base = plan(c, "7b", 131072, 8, sp=1)
    assert plan(c, "7b", 131072, 8, sp=2).total_gib < base.total_gib
    assert plan(c, "7b", 131072, 16, sp=1).total_gib < base.total_gib
    assert plan(c, "7b", 131072, 8, sp=1, checkpointing=False).total_gib > base.total_gib
    assert 8.0 < base.params_b < 8.6


def test_flops_include_attention():
    c = preset_config("qwen2.5-vl-7b")
    tc, vc = c.get_text_config(), c.vision_config
    one = step_flops(tc, vc, [131072], [])
    split = step_flops(tc, vc, [65536, 65536], [])
    assert one > split  # quadratic attention per packed sample
    assert step_flops(tc, vc, [1000], [64]) > step_flops(tc, vc, [1000], [])


def test_cli_plan(capsys):
    assert main(["plan", "--model", "qwen2.5-vl-7b", "--length", "32768", "--gpus", "8", "--sp", "2"]) == 0
    assert "fits | yes" in capsys.readouterr().out
    assert main(["plan", "--model", "qwen2.5-vl-7b", "--gpus", "1", "--length", "131072"]) == 1
    assert main(["plan", "--sp", "8"]) == 2
    assert "valid degrees" in capsys.readouterr().err


def _measured_minus_formula(preset: str, family: str, n_images: int):
    """FLOPs PyTorch counts for one LongLM forward + backward (chunked loss, no layer checkpointing) against
    step_flops, with the terms the counter cannot see (CPU SDPA kernels) or the formula leaves out on purpose
    (the loss chunk's recomputation) put back."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from helpers import chat
    from mmprolong.tokens import load
    from mmprolong.train.encode import encode_messages, image_processor_for
    from mmprolong.train.lm import LongLM
    from mmprolong.train.model import build_model
    from mmprolong.train.pack import pack_samples
    from mmprolong.train.plan import _text_dims

    counter = load(family)
    s = encode_messages(counter, image_processor_for(counter), *chat(3, n_images))
    torch.manual_seed(0)
    hf = build_model(preset_config(preset))
    lm = LongLM(hf, loss_chunk=4096)
    pk = pack_samples([s], hf.model.get_rope_index)
    with FlopCounterMode(display=False) as fc:
        lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw).backward()
    tc, vc = hf.config.get_text_config(), hf.config.vision_config
    d = _text_dims(tc)
    patches = [] if s.image_grid_thw is None else s.image_grid_thw.prod(-1).tolist()
    formula = step_flops(tc, vc, [len(s)], patches, n_targets=s.n_targets)
    text_attn = 3 * d["L"] * 2 * len(s) ** 2 * d["nh"] * d["hd"]   # causal SDPA: not seen by the counter on CPU
    # vision SDPA, not seen either (these small images fit in one Qwen2.5-VL window: full attention per image)
    vis_attn = 3 * 4 * vc.hidden_size * vc.depth * sum(p * p for p in patches)
    recompute = 2 * d["h"] * d["V"] * s.n_targets                      # the loss chunk is recomputed in backward
    return fc.get_total_flops() - (formula - text_attn - vis_attn + recompute), formula


def test_flops_count_the_lm_head_on_answer_tokens_only():
    """The chunked loss projects only target tokens onto the vocabulary; MFU must not claim the rest."""
    diff, formula = _measured_minus_formula("tiny-qwen2.5-vl", "qwen2.5-vl", 0)
    assert abs(diff) <= 1e-3 * formula
    c = preset_config("qwen2.5-vl-7b")
    tc, vc = c.get_text_config(), c.vision_config
    h, v = tc.hidden_size, tc.vocab_size
    assert step_flops(tc, vc, [1000], [], n_targets=10) - step_flops(tc, vc, [1000], [], n_targets=0) == 6 * h * v * 10


def test_vision_flops_follow_each_family_s_tower():
    """Qwen2.5-VL: gated MLP, one merger on merged tokens; Qwen3-VL: plain MLP plus deepstack mergers."""
    for preset, family in (("tiny-qwen2.5-vl", "qwen2.5-vl"), ("tiny-qwen3-vl", "qwen3-vl")):
        diff, formula = _measured_minus_formula(preset, family, 2)
        assert abs(diff) <= 1e-3 * formula, preset
    from mmprolong.train.plan import vision_params

    assert 0.55e9 < vision_params(preset_config("qwen3-vl-8b").vision_config) < 0.6e9  # released tower: ~0.58B


def test_the_light_preset_shape_plans_exactly_as_the_transformers_config():
    """`mmprolong plan` reads presets without transformers (train.presets.shape): same numbers, every preset."""
    from mmprolong.train.presets import PRESETS, shape

    for name in PRESETS:
        for kw in (dict(length=131072, gpus=8, sp=2), dict(length=32768, gpus=4, sp=1, checkpointing=False),
                   dict(length=524288, gpus=16, sp=4, cpu_offload=True)):
            try:
                want = plan(preset_config(name), name, **kw).as_dict()
            except ValueError as e:          # a degree the heads do not allow: the same refusal
                with pytest.raises(ValueError, match=str(e)[:30]):
                    plan(shape(name), name, **kw)
                continue
            assert plan(shape(name), name, **kw).as_dict() == want, (name, kw)


def test_plan_command_imports_neither_torch_nor_transformers():
    """The estimate is arithmetic: `mmprolong plan` on a preset loads no ML library (it took 16 s when it did)."""
    import subprocess
    import sys

    code = ("import sys; from mmprolong.cli.main import main; "
            "rc = main(['plan', '--length', '128K', '--gpus', '8', '--sp', '2', '--gpu-mem', '96']); "
            "print(rc, [m for m in ('torch', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"
