from mmprolong.synth.text import contains, fmt_number, norm, numbers_in, parse_number


def test_norm_unifies_case_space_unicode_and_thousands():
    assert norm("Ｔhe  Northwind\u00a0plant 4,210\u2013t") == "the northwind plant 4210-t"
    assert norm("1,000,000 and 3,5") == "1000000 and 3,5"


def test_parse_number():
    assert parse_number("4,210") == 4210 and parse_number("$4.2") == 4.2 and parse_number("12.5%") == 12.5
    assert parse_number("+9.7") == 9.7 and parse_number("-3") == -3
    assert parse_number("four") is None and parse_number("4.2 million") is None


def test_numbers_in_skips_versions_and_word_parts():
    assert numbers_in("made 4,210 t in 2019, up 12.5%; v1.2.3 and 3k") == [4210, 2019, 12.5]


def test_contains_respects_word_boundaries():
    assert contains("Output was 4,210 tonnes.", "4210") and not contains("item 42100", "4210")
    assert contains("Led by MARIA  Okafor.", "maria okafor")


def test_fmt_number():
    assert fmt_number(4210.0) == "4210" and fmt_number(0.8867) == "0.89" and fmt_number(-0.001) == "0"
