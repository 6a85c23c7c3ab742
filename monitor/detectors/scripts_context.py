"""Context rules for `unexpected_script`: when a letter of an undeclared script is not corruption.

Good answers are full of foreign letters that are not text: Greek letters as mathematical and
scientific symbols (α = 0.05, μs, kΩ, NF-κB, TNF-α, PPARγ, ΔG, 2πr), IPA transcriptions
(/θɪŋk/) and kaomoji (¯\\_(ツ)_/¯, ಠ_ಠ, (ง'̀-'́)ง). Each rule below accepts one of those
shapes and nothing wider: a Greek letter *inside* a Latin word ("exеcuted" with Greek or
Cyrillic look-alikes) is a homoglyph; a whole Greek word, a Greek letter that only ever looks
like a Latin one (ο, Α, Ι...) or one that carries a tonos is text; any letter of any other
script outside a face is text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import regex

_LETTER = regex.compile(r"\p{L}")
_ALNUM = regex.compile(r"[\p{L}\p{N}]")


def is_letter(char: str) -> bool:
    """\\p{L} by the regex package's Unicode version (str.isalpha lags behind in old Pythons)."""
    return bool(_LETTER.match(char))


def is_alnum(char: str) -> bool:
    """\\p{L} or \\p{N}, by the regex package's Unicode version."""
    return bool(_ALNUM.match(char))


#: How far a word (or a token) is followed on each side, in characters.
MAX_WORD = 64
_WORD = regex.compile(r"[\p{L}\p{M}]")
_CASED = regex.compile(r"\p{Cased}")
_MODIFIER = regex.compile(r"\p{Lm}")
#: Greek letters that Unicode's confusables (UTS #39) map to Latin ones and that English never
#: uses as symbols: a capital alpha or an omicron in an English reply is a homoglyph.
_NEVER_SYMBOL = frozenset("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοςϲϳ")
#: Marks that make a Greek letter a letter of Greek text (tonos, dialytika, breathings).
_GREEK_TEXT_MARKS = frozenset("\u0301\u0308\u0313\u0314\u0342\u0344\u0345")
#: SI prefix + ohm, micro + unit: "kΩ", "MΩ", "μs", "μmol", "μHz".
_UNIT = regex.compile(
    r"[yzafpnµμmcdhkMGTPEZY]?[ΩΩ]|[µμ](?:mol|Hz|Pa|Sv|Gy|Wb|eV|rad|bar|in|[ACFHJKLMNSTVWglms])"
)
_MATH_FUNCTIONS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "sinh",
        "cosh",
        "tanh",
        "log",
        "ln",
        "exp",
        "lim",
        "max",
        "min",
        "arg",
        "det",
        "sup",
        "inf",
    ]
)
_MATH_NEIGHBOUR = regex.compile(r"[\p{N}\p{Sm}\p{Lm}\p{Sk}_^'′″*/=+\-−]")
_ALPHABET_PAIRS = frozenset({"αβ", "βγ", "γδ"})
_SENTENCE_END = frozenset(".,;:!?")
_CLOSERS = frozenset(")]}”’»")
_GREEK = regex.compile(r"\p{Script=Greek}")
#: Scripts written without spaces in which Greek letters serve as symbols (α線, β版).
_NO_SPACE_SYMBOL_HOSTS = regex.compile(r"[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]")
#: Characters that only phonetic transcriptions use: IPA letters, length and stress marks.
_IPA = regex.compile(
    r"[\p{Block=IPA_Extensions}\p{Block=Phonetic_Extensions}"
    r"\p{Block=Phonetic_Extensions_Supplement}ːˑˈˌæðŋ]"
)
#: Greek letters that IPA (or a careless transcription of it) uses: θ, β, χ; ε, γ, φ, λ.
_IPA_GREEK = frozenset("θβχεγφλ")
_IPA_TOKEN = regex.compile(r"[/\[]?[\p{Ll}\p{Lm}\p{M}ːˑˈˌ.‿]+[/\]]?")


def _greek_text_letter(char: str) -> bool:
    """A precomposed Greek letter with a tonos or dialytika, as Greek words carry."""
    decomposition = unicodedata.decomposition(char)
    return bool(decomposition) and not decomposition.startswith("<")


def word_around(text: str, start: int, end: int) -> tuple[str, str]:
    """The letters and marks glued to text[start:end] on its left and on its right (at most
    `MAX_WORD` each: a longer run is no word, and a bound keeps the detector linear)."""
    left = start
    while left > 0 and start - left < MAX_WORD and _WORD.match(text[left - 1]):
        left -= 1
    right = end
    while right < len(text) and right - end < MAX_WORD and _WORD.match(text[right]):
        right += 1
    return text[left:start], text[end:right]


def _letters(text: str) -> str:
    return "".join(c for c in text if is_letter(c))


def _math_neighbour(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return any(c and _MATH_NEIGHBOUR.match(c) for c in (before, after))


def _token_position(text: str, start: int, end: int, in_code: bool) -> bool:
    """Does a standalone Greek run sit where a symbol goes, rather than where a stray lands?

    Symbols stand as tokens: after a space, an opening bracket or an operator, before a space,
    punctuation or an operator. A stray character lands anywhere: glued to the end of a
    sentence (",α the"), right after a closing bracket, between two digits, or, in code, in
    the indentation before a statement ("    ν return x").
    """
    prev = text[start - 1] if start > 0 else ""
    nxt = text[end] if end < len(text) else ""
    if (prev.isdigit() and nxt.isdigit()) or (prev and prev in _CLOSERS):
        return False
    if prev and prev in _SENTENCE_END and start >= 2:
        before = text[start - 2]
        if before in _CLOSERS or (is_letter(before) and not _GREEK.match(before)):
            return False
    if in_code:
        line_start = text.rfind("\n", 0, start) + 1
        if not text[line_start:start].strip():
            line_end = text.find("\n", end)
            rest = text[end : line_end if line_end >= 0 else len(text)]
            stripped = rest.lstrip(" \t")
            if not stripped or (
                stripped != rest and (is_letter(stripped[0]) or stripped[0] == "_")
            ):
                return False
    return True


def greek_symbol(
    text: str,
    start: int,
    end: int,
    in_code: bool = False,
    occurrences: Callable[[str], int] | None = None,
) -> bool:
    """Is the Greek run text[start:end] a symbol (α, TNF-α, kΩ, PPARγ) rather than text?

    Units (μs, kΩ) always are. Otherwise, in a code block the same letters must occur again
    in the reply (`occurrences`, default `text.count`): a symbol in code names something
    defined and used, a stray appears once.
    """
    run = text[start:end]
    follower = text[end] if end < len(text) else ""
    if follower in _GREEK_TEXT_MARKS or any(
        c in _NEVER_SYMBOL or _greek_text_letter(c) for c in run
    ):
        return False
    letters = _letters(run)
    if all(_MODIFIER.match(c) for c in letters):
        return True  # superscript and subscript Greek (ᵝ, ᵧ) are symbols by construction
    left, right = word_around(text, start, end)
    if (left or right) and _UNIT.fullmatch(left + run + right):
        return True
    if in_code and (occurrences or text.count)(run) < 2:
        return False
    if not left and not right:
        if not _token_position(text, start, end, in_code):
            return False
        if len(letters) == 1:
            return True
        return len(letters) == 2 and (run in _ALPHABET_PAIRS or _math_neighbour(text, start, end))
    return len(letters) == 1 and _glued_symbol(left, right)


def _glued_symbol(left: str, right: str) -> bool:
    """Is one Greek letter glued to these letters a symbol (ERα, hν, cosθ, α線)?"""
    cjk_left = not left or bool(_NO_SPACE_SYMBOL_HOSTS.match(left[-1]))
    cjk_right = not right or bool(_NO_SPACE_SYMBOL_HOSTS.match(right[0]))
    if cjk_left and cjk_right:
        return True  # Chinese and Japanese have no spaces: gluing to an ideograph means nothing
    host_left, host_right = _letters(left), _letters(right)
    if not all(_CASED.match(c) for c in host_left + host_right):
        return False  # glued into an Arabic or Devanagari word: a stray, not a symbol
    if host_left and host_right:
        return False  # inside a word: "exеcuted", "SαCC"
    host = host_left or host_right
    if len(host) == 1:
        return True  # hν, dω, 2πr, Aβ
    if host.isupper() and len(host) <= 5:
        return True  # ERα, PPARγ; ΛCDM, ΔG
    if len(host) == 2 and not host.islower() and not (host_right and host.istitle()):
        return True  # ΔpH; not a capitalised word after it: "σIf" is a stray at a sentence start
    return host_left.lower() in _MATH_FUNCTIONS  # cosθ


def ipa(text: str, start: int, end: int, in_code: bool) -> bool:
    """Is the Greek run text[start:end] part of a phonetic transcription (/θɪŋk/, [ˈbɑːθ])?

    The run must be IPA's Greek letters, in a token of lowercase letters, modifier letters,
    marks and length or stress marks, optionally between slashes or brackets; the token must
    hold an IPA-only character, or be delimited, or be a short bare transcription in prose
    with θ, β or χ ("θri").
    """
    run = text[start:end]
    if not all(c in _IPA_GREEK or not is_letter(c) for c in run) or len(_letters(run)) > 2:
        return False
    left = start
    while left > 0 and start - left < MAX_WORD and not text[left - 1].isspace():
        left -= 1
    right = end
    while right < len(text) and right - end < MAX_WORD and not text[right].isspace():
        right += 1
    token = text[left:right].strip(".,;:!?\"'()“”‘’")
    if not _IPA_TOKEN.fullmatch(token) or len(token) > 40:
        return False
    if _IPA.search(token) or token[0] in "/[":
        return True
    return not in_code and len(token) <= 5 and any(c in "θβχ" for c in run)


def glued_to_word(text: str, start: int, end: int, allowed_letter: regex.Pattern[str]) -> bool:
    """Does the run touch a letter of an allowed, cased script (a homoglyph or a glued piece)?"""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return any(c and allowed_letter.match(c) and _CASED.match(c) for c in (before, after))
