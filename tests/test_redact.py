"""The one redaction function: key values of configured variables removed, bearer tokens and sk- keys masked,
ordinary text left alone."""

from mmprolong.redact import MASK, redact, register_key_env


def test_redact_removes_configured_keys_and_masks_tokens(monkeypatch):
    monkeypatch.setenv("MY_GATEWAY_KEY", "gw-9f8e7d6c5b4a")
    register_key_env("MY_GATEWAY_KEY")
    text = ('Error code: 401 - {"error": "invalid Authorization: Bearer abc.def-123456", "key": "gw-9f8e7d6c5b4a", '
            '"hint": "sk-proj-abcdefghijkl", api_key=zyxwvut987}')
    out = redact(text)
    for secret in ("gw-9f8e7d6c5b4a", "abc.def-123456", "sk-proj-abcdefghijkl", "zyxwvut987"):
        assert secret not in out
    assert f"Bearer {MASK}" in out and out.startswith("Error code: 401")


def test_redact_leaves_ordinary_text_alone():
    text = "token budget 5000000 reached; 12 tokens per page; timeout after 30 s"
    assert redact(text) == text


def test_log_records_are_redacted_whoever_logs_them(monkeypatch, caplog):
    import logging

    from mmprolong.redact import install_log_redaction

    monkeypatch.setenv("OPENAI_API_KEY", "sk-log-secret-31337")
    install_log_redaction()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("httpx.somewhere").warning("request failed: %s", "key sk-log-secret-31337 rejected")
    assert "sk-log-secret-31337" not in caplog.text and "rejected" in caplog.text
