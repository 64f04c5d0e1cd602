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
