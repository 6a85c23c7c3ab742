"""Hard negatives, part 1: rich Unicode that clean English answers carry, from Unicode data.

Each generator takes a clean English reply and returns it with one class of legitimate
non-ASCII text worked in at word boundaries of its prose: typography, spaces, Greek letters as
mathematical and scientific symbols, mathematical symbols, currency and units, box drawing and
arrows, ligatures, fullwidth and mathematical alphanumerics, combining marks, superscripts,
checkmarks and dingbats, zero-width and bidi characters. Character classes come from the
Unicode database through `regex` properties, not from lists typed here, so each class is
covered as a whole; the few templates say how English uses the characters.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from functools import cache

import regex

from bench.quality.corpus.scripts_corrupt import prose_spans

Negative = Callable[[str, random.Random], str | None]

_BOUNDARY = regex.compile(r"(?<=[\w.,;:)]) (?=[\w(])")
_WORD = regex.compile(r"\b[A-Za-z]{4,}\b")


@cache
def _code_points() -> str:
    return "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)


@cache
def chars(pattern: str) -> tuple[str, ...]:
    """Every assigned, printable code point matching a `regex` class."""
    found = regex.compile(rf"(?V1)[[{pattern}]--[\p{{Cn}}\p{{Co}}\p{{Cs}}\p{{Cc}}]]")
    return tuple(found.findall(_code_points()))


def insert_phrase(text: str, phrase: str, rng: random.Random) -> str:
    """`phrase` between two words of the prose (or at its end), with spaces around."""
    spans = prose_spans(text)
    gaps = [
        m.start() for m in _BOUNDARY.finditer(text) if any(a <= m.start() < b for a, b in spans)
    ]
    if not gaps:
        return text.rstrip() + "\n\n" + phrase
    at = rng.choice(gaps)
    return text[:at] + " " + phrase + text[at:]


def _many(
    text: str, rng: random.Random, make: Callable[[random.Random], str], most: int = 4
) -> str:
    for _ in range(rng.randint(1, most)):
        text = insert_phrase(text, make(rng), rng)
    return text


def _num(rng: random.Random) -> str:
    return rng.choice(
        [str(rng.randint(1, 999)), f"{rng.random() * 10:.2f}", f"0.{rng.randint(1, 99):02d}"]
    )


GREEK_LOWER = "αβγδεζηθικλμνξπρστυφχψωϑϕϵ"
GREEK_UPPER = "ΓΔΘΛΞΠΣΦΨΩ"
_LATIN_VARS = "xyztnkijabcrsfmpq"


def _g(rng: random.Random) -> str:
    return rng.choice(GREEK_LOWER)


def greek_math(text: str, rng: random.Random) -> str:
    def make(r: random.Random) -> str:
        g, h, x, n = _g(r), _g(r), r.choice(_LATIN_VARS), _num(r)
        big = r.choice(GREEK_UPPER)
        return r.choice([
            f"{g} = {n}", f"{g} ≈ {n}", f"({g} = {n})", f"where {g} is the rate", f"{g}({x})",
            f"{g}² + {h}²", f"{g}_{x}", f"{g}ᵢ", f"{g}₀", f"d{g}/d{x}", f"∂{g}/∂{x}", f"{n}{g}",
            f"{big}{x}", f"{big}({x})", f"{big} = {n}", f"{g}{x}", f"{x}{g}", f"e^(i{g})",
            f"sin {g}", f"cos({g})", f"{g} ± {h}", f"{g}'", f"{g}*", f"{g}\u0302", f"{g}\u0304",
            f"the {g} parameter", f"{g}-{x}", f"{g}⁻¹", f"{g} → {h}", f"|{g}|", f"{g}/{n}",
        ])  # fmt: skip

    return _many(text, rng, make)


def greek_science(text: str, rng: random.Random) -> str:
    acronyms = [w for w in regex.findall(r"\b[A-Z]{2,5}\b", text)] or ["ER", "PPAR", "PKC"]

    def make(r: random.Random) -> str:
        g, n, caps = _g(r), r.randint(1, 17), r.choice(acronyms)
        return r.choice([
            f"TNF-{g}", f"IL-{n}{g}", f"IFN-{g}", "NF-κB", f"TGF-{g}", f"HIF-{n}{g}", f"{caps}{g}",
            f"{caps}-{g}", f"A{g}", f"Δ{r.choice('GHSUT')}", f"{g}-helix", f"{g}-lactamase",
            f"{g}-catenin", f"{g} particles", f"{g} decay", f"Δ{n}-THC", f"ω-{n} fatty acids",
            f"{n}{g}-reductase", f"{n} μ{r.choice(['s', 'm', 'g', 'L', 'A', 'V', 'mol'])}",
            f"{n} {r.choice(['', 'k', 'M', 'm', 'G'])}Ω", "hν", "2πr", "πr²", "ΛCDM", f"H{g}",
            f"C{g}", "ΔpH", "αβ T cells", "γδ T cells", f"{g},{_g(r)}-unsaturated", f"{caps}{n}{g}",
        ])  # fmt: skip

    return _many(text, rng, make)


def math_symbols(text: str, rng: random.Random) -> str:
    ops = chars(r"\p{Sm}")
    sets = "ℝℕℤℚℂℍ"

    def make(r: random.Random) -> str:
        x, y, op = r.choice(_LATIN_VARS), r.choice(_LATIN_VARS), r.choice(ops)
        return r.choice([
            f"{x} {op} {y}", f"∀{x} ∈ {r.choice(sets)}", f"∑ᵢ {x}ᵢ", f"∇f({x})", f"∫ f({x}) d{x}",
            f"√{_num(r)}", f"{x} ≤ {y}", "A ⊆ B", "ℏ = h/2π", "ℵ₀", "∅", f"{x} → ∞", op,
        ])  # fmt: skip

    return _many(text, rng, make)


def units_currency(text: str, rng: random.Random) -> str:
    currency = chars(r"\p{Sc}")
    units = [
        "°C",
        "℃",
        "℉",
        "‰",
        "Å",
        "µm",
        "m²",
        "m/s²",
        "kW·h",
        "±0.5 mm",
        "µs",
        "Ω",
        "°",
        "′",
        "″",
    ]

    def make(r: random.Random) -> str:
        cur = r.choice(currency)
        return r.choice([f"{cur}{_num(r)}", f"{_num(r)} {cur}", f"{_num(r)} {r.choice(units)}"])

    return _many(text, rng, make)


def typography(text: str, rng: random.Random) -> str:
    dashes, quotes = chars(r"\p{Pd}"), chars(r"[\p{Pi}\p{Pf}]")
    text = regex.sub(r'"([^"\n]{1,80})"', r"“\1”", text)
    text = regex.sub(r"(?<=\w)'(?=\w)", "’", text)
    text = text.replace(" - ", " — ").replace("...", "…")
    extra = ["§ 3.2", "†", "‡", "¶", "©", "®", "™", "№ 5", "…", "•"]
    return _many(
        text,
        rng,
        lambda r: r.choice(
            [r.choice(dashes), f"{r.choice(quotes)}so-called{r.choice(quotes)}", r.choice(extra)]
        ),
    )


def spaces(text: str, rng: random.Random) -> str:
    zs = [c for c in chars(r"\p{Zs}") if c != " "]
    out = list(text)
    for match in rng.sample(list(regex.finditer(" ", text)), min(8, text.count(" "))):
        out[match.start()] = rng.choice(zs)
    return "".join(out)


def box_arrows(text: str, rng: random.Random) -> str:
    arrows, box = chars(r"\p{Block=Arrows}"), chars(r"\p{Block=Box_Drawing}")
    words = _WORD.findall(text) or ["src", "docs", "tests"]
    tree = ["project/"]
    for i in range(rng.randint(3, 7)):
        branch = "└── " if i == 6 else "├── "
        tree.append(f"{branch}{rng.choice(words).lower()}{rng.choice(['.py', '/', '.md', ''])}")
        if rng.random() < 0.4:
            tree.append(f"│   └── {rng.choice(words).lower()}.txt")
    text = text.rstrip() + "\n\n```\n" + "\n".join(tree) + "\n```\n" if rng.random() < 0.6 else text
    return _many(
        text,
        rng,
        lambda r: r.choice([f"A {r.choice(arrows)} B", r.choice(arrows), r.choice(box) * 3]),
    )


def ligatures(text: str, rng: random.Random) -> str:
    table = {
        unicodedata.normalize("NFKC", c): c
        for c in chars(r"\p{Block=Alphabetic_Presentation_Forms}&&\p{Latin}")
    }
    for plain in sorted(table, key=len, reverse=True):
        if plain.isascii() and rng.random() < 0.7:
            text = text.replace(plain, table[plain])
    return text


def _styled(word: str, style: str) -> str:
    if style == "FULLWIDTH":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    out = []
    for c in word:
        kind = "CAPITAL" if c.isupper() else "SMALL"
        try:
            out.append(unicodedata.lookup(f"MATHEMATICAL {style} {kind} {c.upper()}"))
        except KeyError:
            out.append(c)
    return "".join(out)


def fullwidth_math(text: str, rng: random.Random) -> str:
    styles = [
        "FULLWIDTH",
        "BOLD",
        "ITALIC",
        "SCRIPT",
        "FRAKTUR",
        "DOUBLE-STRUCK",
        "SANS-SERIF",
        "MONOSPACE",
    ]
    words = list(_WORD.finditer(text))
    for word in rng.sample(words, min(len(words), rng.randint(1, 3))):
        text = text.replace(word.group(), _styled(word.group(), rng.choice(styles)), 1)
    greek = chars(r"\p{Block=Mathematical_Alphanumeric_Symbols}&&\p{L}")
    return _many(text, rng, lambda r: r.choice(greek), most=2)


def combining(text: str, rng: random.Random) -> str:
    marks = chars(r"\p{Block=Combining_Diacritical_Marks}&&\p{Inherited}")
    text = _many(
        text, rng, lambda r: r.choice(_LATIN_VARS) + r.choice(marks) + r.choice(["", " = 0"])
    )
    return unicodedata.normalize("NFD", text)


def superscripts(text: str, rng: random.Random) -> str:
    sup = chars(r"\p{Block=Superscripts_and_Subscripts}")
    mods = chars(r"\p{Block=Phonetic_Extensions}&&\p{Lm}")
    return _many(
        text,
        rng,
        lambda r: r.choice(["x", "10", "H", "A", "n", "CO"]) + r.choice(sup + mods) + r.choice(sup),
    )


def dingbats(text: str, rng: random.Random) -> str:
    pool = chars(r"[\p{Block=Dingbats}\p{Block=Miscellaneous_Symbols}\p{Block=Geometric_Shapes}]")
    lines = [
        f"- {rng.choice(pool)} {w}"
        for w in rng.sample(_WORD.findall(text) or ["done"], min(4, len(_WORD.findall(text)) or 1))
    ]
    return text.rstrip() + "\n\n" + "\n".join(lines) + "\n"


def format_chars(text: str, rng: random.Random) -> str:
    invisible = chars(r"\p{Default_Ignorable_Code_Point}&&[\p{Cf}]")
    out = list(text)
    for _ in range(rng.randint(1, 4)):
        out.insert(rng.randrange(len(out) + 1), rng.choice(invisible))
    return "".join(out)


KINDS: dict[str, Negative] = {
    "typography": typography,
    "spaces": spaces,
    "greek_math": greek_math,
    "greek_science": greek_science,
    "math_symbols": math_symbols,
    "units_currency": units_currency,
    "box_arrows": box_arrows,
    "ligatures": ligatures,
    "fullwidth_math": fullwidth_math,
    "combining_nfd": combining,
    "superscripts": superscripts,
    "checkmarks_dingbats": dingbats,
    "format_chars": format_chars,
}
