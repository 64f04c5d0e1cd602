import pytest

from mmprolong import tokens


@pytest.fixture(scope="session")
def counter():
    return tokens.load("qwen2.5-vl")
