"""BibTeX escaping: special characters escaped, TeX math kept, acronyms braced."""

import pytest

from sciseek.export.latex import escape, url_command, verbatim


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R&D", r"R\&D"),
        ("50% off", r"50\% off"),
        ("#1 item_id", r"\#1 item\_id"),
        ("{a, b}", r"\{a, b\}"),
        ("a ~ b ^ c \\ d", r"a \textasciitilde{} b \textasciicircum{} c \textbackslash{} d"),
        ("costs $5 and $6", r"costs \$5 and \$6"),
        ("costs $5-$10", r"costs \$5-\$10"),
        ("a lone $ sign", r"a lone \$ sign"),
        ("café Ødegård", "café Ødegård"),
    ],
)
def test_special_characters_are_escaped(text, expected):
    assert escape(text) == expected


@pytest.mark.parametrize(
    "math",
    ["$x^2$", "$O(n\\log n)$", "$$\\int_0^1 f$$", "\\(a_{ij}\\)", "$\\{x\\}$", "($\\times$4)"],
)
def test_tex_math_is_kept_as_it_is(math):
    assert escape(f"cost of {math} here") == f"cost of {math} here"


def test_characters_the_text_already_escapes_stay_escaped():
    assert escape("by 20.43\\% and A\\&B") == "by 20.43\\% and A\\&B"


def test_accents_and_standard_text_commands_are_kept_other_commands_escaped():
    assert escape('Schr\\"odinger and Erd\\H{o}s') == 'Schr\\"odinger and Erd\\H{o}s'
    assert escape("\\textbf{a_b} and \\emph{$x$}") == "\\textbf{a\\_b} and \\emph{$x$}"
    assert escape("\\method beats \\ours") == (
        "\\textbackslash{}method beats \\textbackslash{}ours"
    )
    assert escape("\\textbf{unclosed") == "\\textbackslash{}textbf\\textbraceleft{}unclosed"


def test_titles_brace_acronyms_and_inner_capitals_only():
    assert escape("Fine-tuning BERT and GPT-4 for LiDAR data", title=True) == (
        "Fine-tuning {BERT} and {GPT-4} for {LiDAR} data"
    )
    assert escape("Fine-tuning BERT", title=False) == "Fine-tuning BERT"
    assert escape("$\\mathcal{O}(N)$ Time", title=True) == "$\\mathcal{O}(N)$ Time"


@pytest.mark.parametrize("text", ["a } b", "a { b", "$x$ }{", "\\} and {"])
def test_unbalanced_braces_never_break_the_entry(text):
    value = escape(text)
    depth = 0
    for ch in value:
        depth += (ch == "{") - (ch == "}")
        assert depth >= 0
    assert depth == 0
    assert "\\textbrace" in value


def test_urls_stay_verbatim_but_carry_no_braces_or_spaces():
    assert verbatim("https://x.org/a_b%20c#d") == "https://x.org/a_b%20c#d"
    assert verbatim("https://x.org/{a} b") == "https://x.org/%7Ba%7D%20b"
    assert url_command("https://x.org/a%20b#c") == r"\url{https://x.org/a\%20b\#c}"
