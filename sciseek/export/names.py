"""Author names split into the parts reference formats want: given, particle, family, suffix.

The splitting follows BibTeX's own rules, as implemented by bibtexparser 2.x
(``parse_single_name_into_parts``): ``First von Last``, ``von Last, First`` and
``von Last, Jr, First``, where the *von* part (``van``, ``de la``) is the run of words written
in lower case. These are the rules BibTeX, BibLaTeX and JabRef apply when they read a name
back, so a name written as ``von Last, Jr, First`` parses into exactly the parts computed here.
``nameparser`` and pybtex's ``Person`` were considered: pybtex applies the same rules (with a
heavier dependency); nameparser guesses particles from a word list, which turns given names
such as the Chinese ``Bin`` (``Xue Bin Peng``) into family-name prefixes, and it reads
``Judge``, ``Saint`` or ``Dr.`` as titles. The one case BibTeX's rules get wrong for names as
papers list them, a generational suffix without a comma (``Martin Luther King Jr.``), is
handled here before the split.

Names are taken in Western order (given names first), as arXiv and most metadata give them:
``Wei Zhang`` has the family name ``Zhang``. A capitalised particle (``Ursula K. Le Guin``)
stays with the given names unless the name is written ``Le Guin, Ursula K.``. Organisations
(``The ATLAS Collaboration``) are kept whole as a literal name. TeX accents in names, as
arXiv's metadata has them (``Bal\\'azs``), become the characters they stand for (pylatexenc,
which bibtexparser uses for the same).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bibtexparser.middlewares.names import parse_single_name_into_parts
from pylatexenc.latex2text import LatexNodes2Text

# generational suffixes; roman numerals only from II up, since "V" and "I" are usually initials
_SUFFIX = re.compile(r"^(?:(?:jr|sr|jnr|snr)\.?|II|III|IV|VI|VII|VIII|2nd|3rd|[4-9]th)$", re.I)
_ROMAN = {"ii", "iii", "iv", "vi", "vii", "viii"}
# words that mark a group rather than a person
_GROUP_WORDS = {
    "collaboration",
    "consortium",
    "team",
    "group",
    "committee",
    "project",
    "initiative",
    "organization",
    "organisation",
    "institute",
    "laboratory",
    "network",
    "alliance",
    "association",
    "society",
    "council",
    "working",
}


# TeX that names carry (arXiv's metadata writes Bal\\'azs): accents, special letters, escapes
_MACRO = re.compile(r"\\([A-Za-z]+|[^A-Za-z\s])")
_KNOWN_MACROS = {*"'\"^~`=.&%$#_{}", *"HcvudbrktoOlLij", "ss", "aa", "AA", "ae", "AE", "oe", "OE"}
_TEX = LatexNodes2Text(math_mode="verbatim")


def plain_name(raw: str) -> str:
    """A name with TeX accents and escapes turned into the characters they stand for
    (``Bal\\'azs`` -> ``Balázs``), a tie (``Eric~Granger``) or line break into a space; a
    name with any other TeX command is kept as it is."""
    text = re.sub(r"\\(?=[^\x00-\x7f])", "", raw)  # a stray backslash: St\\ütz
    text = re.sub(r"(?<!\\)~|\\\\", " ", text)
    macros = _MACRO.findall(text)
    if macros and all(m in _KNOWN_MACROS for m in macros):
        text = unicodedata.normalize("NFC", _TEX.latex_to_text(text))
    return " ".join(text.split())


@dataclass(frozen=True)
class Name:
    """One author: the parts of a person's name, or a ``literal`` name (an organisation)."""

    given: str = ""
    particle: str = ""  # BibTeX's "von" part: van, de la, von der
    family: str = ""
    suffix: str = ""  # Jr., III
    literal: str = ""

    @property
    def family_with_particle(self) -> str:
        """The family name with its particle, as sorted in most styles (``van Beethoven``)."""
        return " ".join(p for p in (self.particle, self.family) if p)

    @property
    def inverted(self) -> str:
        """``Family, Given, Suffix`` (RIS's form), or the literal name."""
        if self.literal:
            return self.literal
        return ", ".join(p for p in (self.family_with_particle, self.given, self.suffix) if p)


def _is_suffix(word: str) -> bool:
    if not _SUFFIX.match(word):
        return False
    # roman numerals must be written in capitals: "iv" is not a suffix, "IV" is
    return word.lower() not in _ROMAN or word.isupper()


def _is_group(text: str) -> bool:
    words = re.findall(r"\w+", text.lower())
    return any(w in _GROUP_WORDS for w in words) or text.lower().startswith("the ")


def split_name(raw: str) -> Name:
    """Split one author string into its parts (see the module docstring for the rules)."""
    text = plain_name(raw).strip(",").strip()
    if not text:
        return Name()
    if _is_group(text) or (text.startswith("{") and text.endswith("}")):
        return Name(literal=text.strip("{}").strip() if text.startswith("{") else text)
    suffix = ""
    pieces = [p.strip() for p in text.split(",")]
    if len(pieces) == 2 and _is_suffix(pieces[1]) and " " in pieces[0]:
        # "Martin Luther King, Jr.": a suffix after the only comma, not a given name
        text, suffix = pieces[0], pieces[1]
    elif len(pieces) == 1:
        words = text.split(" ")
        if len(words) >= 3 and _is_suffix(words[-1].rstrip(",")):
            text, suffix = " ".join(words[:-1]).rstrip(","), words[-1]
    parts = parse_single_name_into_parts(text, strict=False)
    suffix = suffix or " ".join(parts.jr)
    family = " ".join(parts.last)
    given = " ".join(parts.first)
    if not family and given:  # nothing but given names: a single-word name is its family
        family, given = given, ""
    return Name(given=given, particle=" ".join(parts.von), family=family, suffix=suffix)


def split_names(authors: list[str]) -> list[Name]:
    """The authors' names, in order, without empty ones."""
    names = (split_name(a) for a in authors)
    return [n for n in names if n.family or n.literal]
