from mmprolong.synth import Deduper, QARecord


def _qa(q, a="4210", doc="d"):
    return QARecord(doc, "extract-single", (0, 9), q, a, "Integer", [1], ["Text"])


def test_near_duplicates_within_a_document():
    d = Deduper()
    assert not d.seen(_qa("On page 2, how many tonnes of steel did Northwind produce in 2019?"))
    assert d.seen(_qa("On page 2: how many TONNES of steel did Northwind produce in 2019"))
    assert d.seen(_qa("According to page 2, how many tonnes of steel did Northwind produce in 2019?"))
    # same template, different value asked: kept
    assert not d.seen(_qa("On page 2, how many tonnes of steel did Northwind produce in 2020?", a="3900"))
    # other document: kept
    assert not d.seen(_qa("On page 2, how many tonnes of steel did Northwind produce in 2019?", doc="e"))


def test_seeded_from_existing_records():
    d = Deduper(records=[_qa("On page 2, what is X?", "1")])
    assert d.seen(_qa("On page 2, what is X?", "1"))
