"""Kaomoji: when foreign letters are the eyes, mouth or arms of a face, not text.

Faces borrow letters from every script: ツ in ¯\\_(ツ)_/¯, Kannada ಠ in ಠ_ಠ, Thai ง in
(ง'̀-'́)ง, Cyrillic Д in (ﾉД`), Han 益 in (╬ಠ益ಠ). What sets a face apart from a stray
letter is its neighbourhood: a face is a short run of non-space characters (or a few, joined
by single spaces: ༼ つ ◕_◕ ༽つ) made of punctuation and symbols with at most a letter or
two of a word between them, while a stray letter lands inside or next to words. So a run is
a face part when its token holds no word of three or more allowed letters and has one of:

- eyes that the run is (or sits between): the same letter on both sides of one to five
  symbols, marks or spaces (ಠ_ಠ, ꈍ .̮ ꈍ), or, inside brackets, the same foreign letter on
  both sides of one or two letters (ಠ益ಠ);
- otherwise, if the run touches no word of two allowed letters: a symbol or punctuation mark
  outside ASCII (not a quote or a dash: prose is full of those) and one more face part
  (´∀｀, ◕‿◕, °ロ°); or, in prose only, brackets around the run, two face parts, and no
  allowed letter in the face or a foreign letter that repeats ((;д;), ᕕ( ᐛ )ᕗ, щ(ºДºщ)).

In code, where brackets, digits and ASCII punctuation are everywhere, the face is the token
alone and only the first two count. A face holds no number of two digits or more, its
parts do not include the full stop and the comma, and its eyes are letters: "0x0" in a
table of bytes is no face.
"""

from __future__ import annotations

import unicodedata

import regex

from monitor.detectors.scripts_context import is_alnum, is_letter
from monitor.detectors.scripts_sets import script_of

#: A face longer than this (in characters) is text, whatever it holds.
MAX_FACE = 64

_PART = regex.compile(r"(?V1)[[\p{P}\p{S}\p{Lm}\p{Sk}\p{Me}]--[.,]]")
_PLAIN_PUNCT = regex.compile(r"[\p{Quotation_Mark}\p{Pd}…]")
_OPEN = regex.compile(r"(?V1)[\p{Ps}--\p{Quotation_Mark}]")
_CLOSE = regex.compile(r"(?V1)[\p{Pe}--\p{Quotation_Mark}]")
_EYES = regex.compile(
    r"(?V1)([\p{L}\p{N}--[0-9]])(?=[\p{P}\p{S}\p{M}\s]{0,4}[\p{P}\p{S}])"
    r"[\p{P}\p{S}\p{M}\s]{1,5}\1"
)
_LETTER_MOUTH = regex.compile(r"(?V1)([\p{L}\p{N}--[0-9]])\p{M}*[\p{L}\p{N}]\p{M}*\p{L}?\p{M}*\1")
_DIGIT = regex.compile(r"[0-9]")
#: Command-line options and printf formats: the bracketed text of synopses and catalogs.
_SYNTAX = regex.compile(r"(?<![\w-])--?[A-Za-z]|%[-+ #0-9.$]*[a-zA-Z]")
_NUMBER = regex.compile(r"[0-9]{2}")
_MODIFIER = regex.compile(r"\p{Lm}")
_LATIN = regex.compile(r"\p{Script=Latin}")
_CASED = regex.compile(r"\p{Cased}")
_WORDISH = regex.compile(r"[\p{L}\p{M}]")
_IDENTIFIER = regex.compile(r"[\p{L}\p{M}\p{N}_]")


def _token(text: str, start: int, end: int) -> tuple[int, int]:
    """The run of non-space characters around text[start:end], cut beyond `MAX_FACE`."""
    left = start
    while left > 0 and start - left <= MAX_FACE and not text[left - 1].isspace():
        left -= 1
    right = end
    while right < len(text) and right - end <= MAX_FACE and not text[right].isspace():
        right += 1
    return left, right


def _word_letter(char: str, allowed_letter: regex.Pattern[str]) -> bool:
    """A letter that words are made of: allowed, not a modifier (ー, ﾟ are face parts) and,
    for Latin, one that decomposes to an ASCII letter (ʃ, ʕ, ᴥ are face parts too)."""
    if not is_letter(char) or not allowed_letter.match(char):
        return False
    if _MODIFIER.match(char) and script_of(char) == "Common":
        return False  # ー, ﾟ: face parts (々, a Han letter that repeats the last, is not)
    if char.isascii() or not _LATIN.match(char):
        return True
    base = unicodedata.normalize("NFKD", char)[:1]
    return base.isascii() and base.isalpha()


def _is_word(run: str) -> bool:
    """Two or more letters, unless they are one letter repeated or a ToT-like face (lll, TwT);
    one letter is enough in scripts without case (a Han or Thai letter is a word or part of
    one: there are no spaces to tell)."""
    if run and not _CASED.match(run[0]):
        return True
    folded = run.casefold()
    if len(run) < 2 or len(set(folded)) == 1:
        return False
    return not (len(run) == 3 and folded[0] == folded[2])


def _word_run(token: str, allowed_letter: regex.Pattern[str]) -> int:
    """Length of the longest word (see `_is_word`) of allowed-script letters in the token."""
    longest = 0
    for found in regex.finditer(r"\p{L}+", token):
        run = "".join(c if _word_letter(c, allowed_letter) else " " for c in found.group())
        for part in run.split():
            if _is_word(part):
                longest = max(longest, len(part))
    return longest


def _gap(char: str) -> bool:
    return char.isspace() and char not in "\n\r"


def face_around(
    text: str, start: int, end: int, allowed_letter: regex.Pattern[str]
) -> tuple[int, int]:
    """The token holding text[start:end], joined across single spaces with neighbouring
    tokens that hold no word (two or more allowed letters in a row) and no number: faces
    have spaces."""
    left, right = _token(text, start, end)
    if right - left > MAX_FACE:
        return left, right
    while left >= 2 and _gap(text[left - 1]) and not text[left - 2].isspace():
        prev_left, _ = _token(text, left - 2, left - 1)
        neighbour = text[prev_left : left - 1]
        if _word_run(neighbour, allowed_letter) >= 2 or _NUMBER.search(neighbour):
            break
        if right - prev_left > MAX_FACE:
            break
        left = prev_left
    while right + 1 < len(text) and _gap(text[right]) and not text[right + 1].isspace():
        _, next_right = _token(text, right + 1, right + 2)
        neighbour = text[right + 1 : next_right]
        if _word_run(neighbour, allowed_letter) >= 2 or _NUMBER.search(neighbour):
            break
        if next_right - left > MAX_FACE:
            break
        right = next_right
    return left, right


def _eyes(
    face: str,
    offset: int,
    length: int,
    allowed_letter: regex.Pattern[str],
    brackets: tuple[int, int] | None,
) -> bool:
    """Eyes at or around the run (face[offset:offset+length]), or foreign eyes anywhere.

    ಠ_ಠ or ಠ益ಠ anywhere in the face makes it a face; T_T only if the run is one of its
    parts, and TヘT or ʘꀾʘ (allowed eyes around a letter mouth) only in a face with no word,
    and inside brackets if the eyes are ASCII letters ("seกe" is a stray in a word).
    """
    words = _word_run(face, allowed_letter)
    for pattern in (_EYES, _LETTER_MOUTH):
        if not pattern.search(face):
            continue
        for found in pattern.finditer(face, overlapped=True):
            outside = face[found.start() - 1 : found.start()] + face[found.end() : found.end() + 1]
            eye = script_of(found.group(1))
            if any(_WORDISH.match(c) and script_of(c) == eye for c in outside):
                continue  # inside a longer run of letters: a word with a repeated letter
            foreign_eyes = not allowed_letter.match(found.group(1))
            plain_eyes = found.group(1).isascii()
            if (
                pattern is _LETTER_MOUTH
                and brackets is None
                and (not _mixed(found.group()) or _CASED.match(found.group(1)))
            ):
                continue  # или, არაა, ХXХ: a word or a homoglyph, not ಠ益ಠ
            if (
                pattern is _LETTER_MOUTH
                and not foreign_eyes
                and (words or (plain_eyes and brackets is None))
            ):
                continue
            if foreign_eyes or (found.start() <= offset and offset + length <= found.end()):
                return True
    return False


def _mixed(eyes_and_mouth: str) -> bool:
    """Do the letters come from two scripts (ಠ益ಠ), as no word's do?"""
    return len({script_of(c) for c in eyes_and_mouth if is_alnum(c)}) > 1


def kaomoji(
    text: str, start: int, end: int, allowed_letter: regex.Pattern[str], in_code: bool
) -> bool:
    """Is text[start:end] part of a kaomoji face (see the module docstring)?"""
    hand = _hand(text, start, end) and end < len(text) and _word_letter(text[end], allowed_letter)
    if not hand and _glued(text, start, end, allowed_letter):
        return False  # touches a word: a stray letter, whatever surrounds the word
    if in_code:
        left, right = _token(text, start, end)
    else:
        left, right = face_around(text, start, end, allowed_letter)
    if hand:
        right = end  # what follows the hand is text: ゞyes,sir
    face = _Face(text[left:right], start - left, end - start, allowed_letter)
    if len(face.text) > MAX_FACE or _NUMBER.search(face.text):
        return False
    if face.words >= 3 or len(face.foreign) > 16:
        return False
    if _mirrored(text, start, end) or _eyes(
        face.text, face.offset, face.length, allowed_letter, face.brackets
    ):
        return True
    before, after = text[start - 1 : start], text[end : end + 1]
    if before and after and all(_word_letter(c, allowed_letter) for c in (before, after)):
        return False  # between two letters of a word: "ե门ն" is a stray, not a face
    if len(face.parts) >= 2 and any(_fancy(c) for c in face.parts):
        return True  # a symbol outside ASCII: ´∀｀, ◕‿◕, °ロ°
    if in_code or face.words > 1:
        return False
    if any(_DIGIT.match(c) for c in text[max(0, start - 1) : end + 1]):
        return False  # (1நா): a stray in a numbered item, not a face
    return face.bracketed()


def _fancy(char: str) -> bool:
    """A face part outside ASCII that prose does not use all the time (not a quote, a dash)."""
    return (
        not char.isascii()
        and not _PLAIN_PUNCT.match(char)
        and (not is_alnum(char) or script_of(char) == "Common")
    )


class _Face:
    """A candidate face and the run in it (at `offset`, `length` characters long)."""

    def __init__(
        self, text: str, offset: int, length: int, allowed_letter: regex.Pattern[str]
    ) -> None:
        self.text, self.offset, self.length = text, offset, length
        self.allowed_letter = allowed_letter
        self.brackets = _bracket_span(text)
        self.words = _word_run(_scope(text, offset, self.brackets), allowed_letter)
        self.foreign = [c for c in text if is_alnum(c) and not allowed_letter.match(c)]
        self.parts = [c for c in text if _PART.match(c)]

    def bracketed(self) -> bool:
        """Prose faces of ASCII parts: the run inside brackets ((;д;)), an arm outside them
        (人(_ _*)), or a face with one bracket and nothing else ((^^ゞ, >')))彡)."""
        text, offset = self.text, self.offset
        if self.brackets is None:
            solid = [c for c in self.parts if (_OPEN.match(c) or _CLOSE.match(c))]
            rest = text[:offset] + text[offset + self.length :]
            alone = all(not is_alnum(c) or _MODIFIER.match(c) for c in rest)
            return alone and len(text) <= 12 and bool(solid) and len(self.parts) >= 3
        opening, closing = self.brackets
        if sum(1 for c in text if _OPEN.match(c)) > 2:
            return False  # [-a] [-b] [-c]: a synopsis, not a face
        if opening < offset < closing:
            if _SYNTAX.search(text):
                return False  # [ಶೈಲಿ-t], (%2$s, ...): options and formats, not faces
            repeated = len(set(self.foreign)) < len(self.foreign)
            return len(self.parts) >= (2 if repeated or self.words == 0 else 3)
        inside = text[opening + 1 : closing]
        if len([c for c in inside if is_letter(c)]) > 2:
            return False  # (A=B?T:E) is a formula, not a face
        if len([c for c in inside if _PART.match(c) or c in ".,"]) >= 2:
            return True
        return any(is_alnum(c) and not self.allowed_letter.match(c) for c in inside)


def _scope(face: str, offset: int, brackets: tuple[int, int] | None) -> str:
    """Where words count: the whole face, or the brackets around the run with any word glued
    to them ((^з^)-☆Chu!: the word is outside the face; open(ก): it is glued to the call)."""
    if brackets is None or not brackets[0] < offset < brackets[1]:
        return face
    first, last = brackets
    while first > 0 and _IDENTIFIER.match(face[first - 1]):
        first -= 1
    while last + 1 < len(face) and _IDENTIFIER.match(face[last + 1]):
        last += 1
    return face[first : last + 1]


_MIRROR = str.maketrans("()[]{}<>/\\", ")(][}{><\\/")


def _mirrored(text: str, start: int, end: int) -> bool:
    """Is the run the centre of a symmetric face (U^ェ^U, <-ヘ->, ＵＴｪＴＵ)? Two or more
    characters on each side mirror each other, none a space, not all the same (a rule of
    dashes is no face), one at least a symbol."""
    size = 0
    while (
        start - size - 1 >= 0
        and end + size < len(text)
        and not text[start - size - 1].isspace()
        and text[start - size - 1].translate(_MIRROR) == text[end + size]
    ):
        size += 1
    before = text[start - size : start]
    return size >= 2 and before[-1] != before[-2] and any(_PART.match(c) for c in before)


def _hand(text: str, start: int, end: int) -> bool:
    """A modifier letter between a face and a word: the saluting hand of (▼。▼)ゞyes,sir."""
    return (
        start > 0
        and bool(_PART.match(text[start - 1]))
        and all(_MODIFIER.match(c) for c in text[start:end])
    )


def _glued(text: str, start: int, end: int, allowed_letter: regex.Pattern[str]) -> bool:
    """Does the run touch a word (see `_is_word`) of allowed letters on either side?"""
    left = start
    while left > 0 and start - left < 8 and _word_letter(text[left - 1], allowed_letter):
        left -= 1
    right = end
    while right < len(text) and right - end < 8 and _word_letter(text[right], allowed_letter):
        right += 1
    return _is_word(text[left:start]) or _is_word(text[end:right])


def _bracket_span(face: str) -> tuple[int, int] | None:
    """Offsets of the first opening and the last closing bracket, if both are there."""
    opening = next((i for i, c in enumerate(face) if _OPEN.match(c)), None)
    closing = next((i for i in range(len(face) - 1, -1, -1) if _CLOSE.match(face[i])), None)
    if opening is None or closing is None or closing < opening:
        return None
    return opening, closing
