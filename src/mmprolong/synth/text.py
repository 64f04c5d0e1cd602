"""Text normalisation and number handling shared by fact finding and verification.

PDF text layers differ from what a model writes in case, spacing, unicode forms (ligatures, non-breaking and thin
spaces, typographic dashes/quotes) and thousands separators; both sides go through `norm` before comparing.
"""

from __future__ import annotations

import re
import unicodedata

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}(?!\d))")
_WS = re.compile(r"\s+")

# a number as printed: 4,210 | 4210 | 12.5 | -3 ; not part of a word or a longer dotted token
NUMBER = re.compile(r"(?<![\w.,\-])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w]|\.\d|,\d{3})")
YEAR = re.compile(r"^(1[89]\d\d|20\d\d)$")


def clean(text: str) -> str:
    """NFKC, unify dashes/quotes/spaces; keep case and thousands separators (for display and regexes)."""
    text = unicodedata.normalize("NFKC", text or "").translate(_DASHES).translate(_QUOTES)
    text = text.replace("\u00ad", "")  # soft hyphen
    return text


def norm(text: str) -> str:
    """Comparison form: clean, casefold, no thousands separators, single spaces."""
    t = clean(text).casefold()
    t = _THOUSANDS.sub("", t)
    return _WS.sub(" ", t).strip()


def parse_number(s: str) -> float | None:
    """'4,210' -> 4210.0, '$4.2' -> 4.2, '12.5%' -> 12.5; None when `s` is not one number."""
    t = norm(str(s)).strip(" .")
    t = re.sub(r"^\+|^[$€£¥]|%$|\s*percent$", "", t).strip()
    t = t.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", t) else t
    if not re.fullmatch(r"-?\d+(\.\d+)?|-?\.\d+", t):
        return None
    return float(t)


def numbers_in(text: str) -> list[float]:
    """Every number printed in `text` (thousands separators understood)."""
    return [float(m.group().replace(",", "")) for m in NUMBER.finditer(clean(text))]


def is_year(s: str) -> bool:
    return bool(YEAR.match(s.strip()))


def fmt_number(v: float, decimals: int = 2) -> str:
    """Canonical answer text: integers without separators, floats rounded and without trailing zeros."""
    if float(v).is_integer():
        return str(int(v))
    s = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


def contains(haystack: str, needle: str) -> bool:
    """`needle` occurs in `haystack` after normalisation, on word boundaries where the needle ends in a word char."""
    h, n = norm(haystack), norm(needle).strip(" .")
    if not n:
        return False
    pre = r"(?<!\w)" if n[0].isalnum() else ""
    post = r"(?!\w)" if n[-1].isalnum() else ""
    return re.search(pre + re.escape(n) + post, h) is not None


def number_close(a: float, b: float, rel: float = 0.01, abs_tol: float = 1e-9) -> bool:
    return abs(a - b) <= max(abs_tol, rel * max(abs(a), abs(b)))
