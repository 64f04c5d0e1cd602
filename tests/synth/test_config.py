import pytest
from pydantic import ValidationError

from mmprolong.synth import GeneratorConfig, make_generator
from mmprolong.synth.rules import RulesGenerator


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ValidationError, match="concurency"):
        GeneratorConfig(kind="rules", concurency=3)
    with pytest.raises(ValidationError, match="kind"):
        GeneratorConfig(kind="gpt")
    with pytest.raises(ValueError, match="concurrency"):
        make_generator({"kind": "openai", "concurrency": 0})


def test_factory():
    assert isinstance(make_generator({"kind": "rules"}), RulesGenerator)
    with make_generator(GeneratorConfig()) as gen:
        assert gen.name == "rules"
    with pytest.raises(ValueError, match="model"):
        make_generator(GeneratorConfig(kind="openai"))
