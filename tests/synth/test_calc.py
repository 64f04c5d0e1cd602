import pytest

from mmprolong.synth.calc import calc_line, parse_calc


def test_round_trip_and_results():
    line = calc_line("difference", [("Northwind 2019", 4210), ("Southfield (2019)", 2150.5)])
    assert line == "calc: difference(Northwind 2019=4210; Southfield  2019=2150.5)"
    c = parse_calc("Page 2 and page 3. " + line + " = 2059.5")
    assert c.op == "difference" and c.result() == pytest.approx(2059.5)
    assert parse_calc(calc_line("count_gt", [("a", 1), ("b", 5), ("c", 9)], param=4)).result() == 2
    assert parse_calc(calc_line("argmin", [("a", 1), ("b", 5)])).result() == "a"
    assert parse_calc(calc_line("ratio", [("a", 1), ("b", 4)])).result() == 0.25


def test_unparseable_or_degenerate_calcs_are_none():
    assert parse_calc("no calc here") is None
    assert parse_calc("calc: median(a=1; b=2)") is None
    assert parse_calc("calc: ratio(a=1; b=0)") is None
    assert parse_calc("calc: difference(a=1)") is None
    assert parse_calc("calc: count_gt(a=1; b=2)") is None
    with pytest.raises(ValueError):
        calc_line("median", [("a", 1)])
