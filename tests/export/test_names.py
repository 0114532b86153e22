"""Author names split into given, particle, family and suffix."""

import pytest

from sciseek.export.names import Name, plain_name, split_name, split_names
from tests.export.cases import GROUP, NAMES


@pytest.mark.parametrize("raw", list(NAMES))
def test_names_split_into_their_parts(raw):
    name = split_name(raw)
    assert (name.given, name.particle, name.family, name.suffix) == NAMES[raw]
    assert name.literal == ""


def test_an_organisation_is_one_literal_name():
    assert split_name(GROUP) == Name(literal=GROUP)
    assert split_name("{Google Research}") == Name(literal="Google Research")


def test_inverted_form_puts_the_family_and_its_particle_first():
    assert split_name("Ludwig van Beethoven").inverted == "van Beethoven, Ludwig"
    assert split_name("Martin Luther King Jr.").inverted == "King, Martin Luther, Jr."
    assert split_name("Plato").inverted == "Plato"
    assert split_name(GROUP).inverted == GROUP


def test_lower_case_roman_numerals_and_single_letters_are_not_suffixes():
    assert split_name("Anna Maria iv").family == "iv"
    assert split_name("Sanjay Kumar V").suffix == ""


def test_blank_names_are_dropped():
    assert split_names(["", "  ", "Ada Lovelace", ","]) == [split_name("Ada Lovelace")]


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("C. Bal\\'azs", "C. Balázs"),
        ('M\\"{u}ller', "Müller"),
        ("Nguy\\~ên", "Nguyễn"),
        ("{\\v{S}}koda", "Škoda"),
        ("Eric~Granger", "Eric Granger"),
        ("Sathyanarayanan N. Aakur\\\\", "Sathyanarayanan N. Aakur"),
        ("Peter St\\ütz", "Peter Stütz"),
        ("AT\\&T", "AT&T"),
        ("J. \\unknown Smith", "J. \\unknown Smith"),  # nothing lost to a command it does not know
    ],
)
def test_tex_in_names_becomes_the_characters_it_stands_for(raw, plain):
    assert plain_name(raw) == plain


def test_a_tex_accent_never_splits_a_name():
    assert split_name("Tol\\'ul\\d{o}p\\'e \\`Og\\'unr\\`em\\'i") == Name(
        given="Tolúlọpé", family="Ògúnrèmí"
    )
