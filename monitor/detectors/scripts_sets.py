"""Allowed script sets for `unexpected_script`: names, BCP 47 defaults, the per-set fast pattern.

Script membership always comes from the `regex` package's Unicode data (`\\p{Script=...}` and
`\\p{Script_Extensions=...}`); this module holds no code-point tables, only the names of the
Unicode scripts and which scripts a language is normally written in (CLDR likely subtags).
Everything here is pure and cached: a compiled pattern per allowed set, a script per character.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import regex

from monitor.config.expectation import Expectation

#: Every Unicode Script property value (long names, Unicode 17), "Unknown" last.
SCRIPT_NAMES: tuple[str, ...] = (
    # The scripts that corruption most often shows up in come first: `script_of` tries them
    # in this order, so the common case is one short alternation away.
    "Common", "Inherited", "Latin", "Greek", "Cyrillic", "Han", "Hiragana", "Katakana",
    "Hangul", "Thai", "Arabic", "Hebrew", "Devanagari", "Bengali", "Tamil", "Georgian",
    "Armenian", "Ethiopic", "Khmer", "Lao", "Myanmar", "Sinhala", "Telugu", "Kannada",
    "Malayalam", "Gujarati", "Gurmukhi", "Oriya", "Tibetan", "Thaana", "Syriac", "Bopomofo",
    "Mongolian", "Yi", "Braille", "Canadian_Aboriginal", "Cherokee", "Tifinagh", "Nko",
    "Adlam", "Ahom", "Anatolian_Hieroglyphs", "Avestan", "Balinese", "Bamum", "Bassa_Vah",
    "Batak", "Beria_Erfe", "Bhaiksuki", "Brahmi", "Buginese", "Buhid", "Carian",
    "Caucasian_Albanian", "Chakma", "Cham", "Chorasmian", "Coptic", "Cuneiform", "Cypriot",
    "Cypro_Minoan", "Deseret", "Dives_Akuru", "Dogra", "Duployan", "Egyptian_Hieroglyphs",
    "Elbasan", "Elymaic", "Garay", "Glagolitic", "Gothic", "Grantha", "Gunjala_Gondi",
    "Gurung_Khema", "Hanifi_Rohingya", "Hanunoo", "Hatran", "Imperial_Aramaic",
    "Inscriptional_Pahlavi", "Inscriptional_Parthian", "Javanese", "Kaithi", "Kawi",
    "Kayah_Li", "Kharoshthi", "Khitan_Small_Script", "Khojki", "Khudawadi", "Kirat_Rai",
    "Lepcha", "Limbu", "Linear_A", "Linear_B", "Lisu", "Lycian", "Lydian", "Mahajani",
    "Makasar", "Mandaic", "Manichaean", "Marchen", "Masaram_Gondi", "Medefaidrin",
    "Meetei_Mayek", "Mende_Kikakui", "Meroitic_Cursive", "Meroitic_Hieroglyphs", "Miao",
    "Modi", "Mro", "Multani", "Nabataean", "Nag_Mundari", "Nandinagari", "New_Tai_Lue",
    "Newa", "Nushu", "Nyiakeng_Puachue_Hmong", "Ogham", "Ol_Chiki", "Ol_Onal",
    "Old_Hungarian", "Old_Italic", "Old_North_Arabian", "Old_Permic", "Old_Persian",
    "Old_Sogdian", "Old_South_Arabian", "Old_Turkic", "Old_Uyghur", "Osage", "Osmanya",
    "Pahawh_Hmong", "Palmyrene", "Pau_Cin_Hau", "Phags_Pa", "Phoenician", "Psalter_Pahlavi",
    "Rejang", "Runic", "Samaritan", "Saurashtra", "Sharada", "Shavian", "Siddham", "Sidetic",
    "SignWriting", "Sogdian", "Sora_Sompeng", "Soyombo", "Sundanese", "Sunuwar",
    "Syloti_Nagri", "Tagalog", "Tagbanwa", "Tai_Le", "Tai_Tham", "Tai_Viet", "Tai_Yo",
    "Takri", "Tangsa", "Tangut", "Tirhuta", "Todhri", "Tolong_Siki", "Toto", "Tulu_Tigalari",
    "Ugaritic", "Vai", "Vithkuqi", "Wancho", "Warang_Citi", "Yezidi", "Zanabazar_Square",
    "Unknown",
)  # fmt: skip

#: Pseudo-scripts for what is corruption but no script: C0/C1 controls and ANSI escapes, U+FFFD.
CONTROL = "Control"
REPLACEMENT = "Replacement"
OTHER = "Other"

#: The values the `script` metric label may take: living scripts that a model could emit,
#: the pseudo-scripts above, "Unknown" (noncharacters, lone surrogates) and "Other".
SCRIPT_LABELS: tuple[str, ...] = (
    *SCRIPT_NAMES[2:39],
    "Unknown",
    CONTROL,
    REPLACEMENT,
    OTHER,
)


def script_label(script: str) -> str:
    """The bounded metric label for a script name: itself if in `SCRIPT_LABELS`, else "Other"."""
    return script if script in _LABEL_SET else OTHER


_LABEL_SET = frozenset(SCRIPT_LABELS)

# ISO 15924 codes that name a writing system rather than one Script property value.
_COMPOSITE_CODES: dict[str, tuple[str, ...]] = {
    "HANS": ("Han",),
    "HANT": ("Han", "Bopomofo"),
    "JPAN": ("Han", "Hiragana", "Katakana"),
    "KORE": ("Hangul", "Han"),
    "HRKT": ("Hiragana", "Katakana"),
    "KATAKANAORHIRAGANA": ("Hiragana", "Katakana"),
}

# CLDR likely scripts of languages (BCP 47 primary subtags), one script set a line. Latin is
# added to every set below, since code, product names and URLs are Latin whatever the language.
_LANGUAGE_TABLE = """
Latin: ace ach af ak an ang ast ay az bar bi bm br bs ca ceb ch co cs csb cy da de dsb ee
Latin: en eo es et eu ff fi fil fj fo fr frp fur fy ga gd gl gn gsw gv ha haw hr hsb ht hu ia id
Latin: ie ig io is it jam jv kab ki kl kmr ku kw la lb lg li ln lt lu lv mg mh mi ms mt na nah nb
Latin: nd nds nl nn no nso nv ny oc om pap pl pt qu rm rn ro rom rw sc se sg sk sl sm sn so son sq
Latin: ss st su sv sw tet tk tl tn to tpi tr ts ty tzm uz ve vi vo wa wo xh yo za zu
Cyrillic: ab av ba be bg ce cv kk kv ky mhr mk mn mo os ru sah sr tg tt udm uk
Greek: el
Latin Cyrillic: crh
Armenian: hy
Georgian: ka
Hebrew: he iw yi
Arabic: ar ckb fa ks ps sd ug ur
Thaana: dv
Syriac: syr
Nko: nqo
Devanagari: bho doi hi kok mai mr ne new pi sa
Bengali: as bn mni
Gurmukhi: pa
Gujarati: gu
Oriya: or
Tamil: ta
Telugu: te
Kannada: kn
Malayalam: ml
Sinhala: si
Thai: th
Lao: lo
Myanmar: my
Khmer: km
Tibetan: bo dz
Ethiopic: am byn gez ti tig wal
Cherokee: chr
Canadian_Aboriginal: cr iu
Tifinagh: zgh
Vai: vai
Yi: ii
Ol_Chiki: sat
Han Hiragana Katakana: ja
Katakana: ain
Han: zh yue wuu hak nan
Hangul Han: ko
"""


def _language_table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for line in _LANGUAGE_TABLE.strip().splitlines():
        names, _, langs = line.partition(":")
        scripts = tuple(dict.fromkeys((*names.split(), "Latin")))
        for lang in langs.split():
            table[lang] = scripts
    return table


LANGUAGE_SCRIPTS: dict[str, tuple[str, ...]] = _language_table()
# Regions whose usual script differs from the language's default (CLDR likely subtags).
_REGION_SCRIPTS: dict[tuple[str, str], str] = {
    ("zh", "TW"): "Hant",
    ("zh", "HK"): "Hant",
    ("zh", "MO"): "Hant",
    ("pa", "PK"): "Arab",
    ("az", "IR"): "Arab",
    ("uz", "AF"): "Arab",
    ("sd", "IN"): "Deva",
    ("mn", "CN"): "Mong",
}


@dataclass(frozen=True, slots=True)
class ScriptSet:
    """The scripts a reply may use (Common and Inherited always included) and their scanner.

    `candidates` finds runs of characters outside the set; ASCII comes first in its class
    because the regex engine tests class members in order and replies are mostly ASCII.
    `letter` matches one letter or digit of the set. `mixed`, when Latin and Greek or Cyrillic
    are allowed, finds a Latin letter glued to a Greek or Cyrillic one: the place where a
    homoglyph hides in a word whose scripts are each allowed on their own.
    """

    scripts: frozenset[str]
    candidates: regex.Pattern[str]
    letter: regex.Pattern[str]
    mixed: regex.Pattern[str] | None


def _normalise(name: str) -> str:
    return name.replace("_", "").replace("-", "").replace(" ", "").upper()


_BY_NORMALISED = {_normalise(name): name for name in SCRIPT_NAMES}


@cache
def all_code_points() -> str:
    """Every code point but the surrogates, in order: a haystack for deriving classes."""
    return "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)


@lru_cache(maxsize=256)
def canonical_scripts(name: str) -> tuple[str, ...] | None:
    """Long Script names for a user-given name, alias or ISO 15924 code; None if unknown.

    "latin", "Latn" and "LATIN" all give ("Latin",); "Jpan" gives Han, Hiragana and Katakana.
    """
    key = _normalise(name)
    if key in _BY_NORMALISED:
        return (_BY_NORMALISED[key],)
    if key in _COMPOSITE_CODES:
        return _COMPOSITE_CODES[key]
    if not key.isalnum():
        return None
    try:
        pattern = regex.compile(rf"\p{{Script={key}}}")
    except regex.error:
        return None
    found = pattern.search(all_code_points())  # an alias: name it by one of its characters
    return (script_of(found.group()),) if found else None


@lru_cache(maxsize=256)
def language_scripts(tag: str) -> tuple[str, ...] | None:
    """The default script set of a BCP 47 tag ("en", "sr-Latn", "zh-TW"); None if unknown."""
    parts = [p for p in tag.replace("_", "-").split("-") if p]
    if not parts:
        return None
    lang = parts[0].lower()
    script = next((p for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
    if script is None and region is not None:
        script = _REGION_SCRIPTS.get((lang, region))
    if script is not None:
        named = canonical_scripts(script)
        if named is None:
            return None
        if lang == "zh" and named == ("Han",) and script.upper() == "HANT":
            named = ("Han", "Bopomofo")
        return tuple(dict.fromkeys((*named, "Latin")))
    return LANGUAGE_SCRIPTS.get(lang)


@lru_cache(maxsize=64)
def script_set(scripts: frozenset[str]) -> ScriptSet:
    """The compiled scanner for a set of canonical script names (cached per set)."""
    allowed = scripts | {"Common", "Inherited"}
    props = "".join(
        rf"\p{{Script={s}}}\p{{Script_Extensions={s}}}" for s in sorted(allowed - {"Unknown"})
    )
    ascii_ = r"\x20-\x7e" if "Latin" in allowed else r"\x20-\x40\x5b-\x60\x7b-\x7e"
    pattern = regex.compile(rf"[^\t\n\r\f{ascii_}{props}]+")
    letter = regex.compile(rf"(?V1)[[\p{{L}}\p{{N}}]&&[{props}]]")
    mixed = None
    if "Latin" in allowed and allowed & {"Greek", "Cyrillic"}:
        others = "".join(rf"\p{{Script={s}}}" for s in sorted(allowed & {"Greek", "Cyrillic"}))
        mixed = regex.compile(
            rf"\p{{Script=Latin}}\p{{M}}*[{others}]|[{others}]\p{{M}}*\p{{Script=Latin}}"
        )
    return ScriptSet(frozenset(allowed), pattern, letter, mixed)


def resolve(expect: Expectation) -> tuple[ScriptSet | None, str | None]:
    """The allowed set for an expectation and a problem to report, if any.

    (None, None) when it sets neither key; (None, message) for an unknown script name. An
    explicit `scripts` list wins over the `language` default. A language without a default in
    the table is judged as Latin, the script of most languages CLDR lists, with a note.
    """
    if expect.scripts is not None:
        names: list[str] = []
        for given in expect.scripts:
            found = canonical_scripts(given)
            if found is None:
                return None, f"unknown script {given!r} in `scripts`"
            names.extend(found)
        return script_set(frozenset(names)), None
    if expect.language is not None:
        defaults = language_scripts(expect.language)
        if defaults is None:
            note = f"no default scripts for language {expect.language!r}: judged as Latin"
            return script_set(frozenset({"Latin"})), note
        return script_set(frozenset(defaults)), None
    return None, None


_SCRIPT_OF = regex.compile(
    "|".join(rf"(?P<{name}>\p{{Script={name}}})" for name in SCRIPT_NAMES[:-1])
)


@lru_cache(maxsize=8192)
def script_of(char: str) -> str:
    """The Unicode Script property value of one character (long name; "Unknown" if none)."""
    found = _SCRIPT_OF.match(char)
    return found.lastgroup or "Unknown" if found else "Unknown"
