from mmprolong.dataset.buckets import bucket_of, default_edges, fmt_tokens, labels


def test_buckets():
    assert fmt_tokens(8192) == "8K" and fmt_tokens(131072) == "128K" and fmt_tokens(1536) == "1.5K"
    assert default_edges(131072)[-1] == 131072 and default_edges(100000)[-1] == 131072
    edges = [8192, 16384, 32768]
    assert labels(edges) == ["8K-16K", "16K-32K"]
    assert bucket_of(8192, edges) == "8K-16K" and bucket_of(16383, edges) == "8K-16K"
    assert bucket_of(16384, edges) == "16K-32K" and bucket_of(32768, edges) == "16K-32K"   # top edge inclusive
    assert bucket_of(100, edges) == "<8K" and bucket_of(40000, edges) == ">32K"
