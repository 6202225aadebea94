"""A check in a notebook says what the terminal says: the point, the diagnosis, where the claim leaves
the derivation; its HTML and Markdown forms agree word for word and count "1 check"."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import symcalc
from symcalc.cli.main import main


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_words(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def _markdown_words(text: str) -> str:
    plain = re.sub(r"\\(.)", r"\1", text)  # escapes
    plain = re.sub(r"^\|---.*$", "", plain, flags=re.M)
    plain = plain.replace("**", "").replace("|", " ")
    plain = re.sub(r"^- ", "", plain, flags=re.M)
    return " ".join(plain.split())


def _terminal_words(capsys: pytest.CaptureFixture[str], lhs: str, rhs: str) -> str:
    main(["check", "two_layer_network", lhs, rhs])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("lhs", "rhs", "diagnosis"),
    [
        ("dL/dv1", "(y - a)*h1", "the claim is -1 times that: a sign slip"),
        ("dL/ds1", "(a - y)*(1 - h1^2)", "they part at step 4"),
    ],
)
def test_html_and_markdown_say_what_the_terminal_says(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lhs: str, rhs: str, diagnosis: str
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    check = symcalc.check_claim(symcalc.load("two_layer_network"), lhs, rhs)
    assert check.counterexample is not None
    html_words, markdown_words = _html_words(check._repr_html_()), _markdown_words(check._repr_markdown_())
    terminal = _terminal_words(capsys, lhs, rhs)
    x1 = dict(check.counterexample.point)["x1"]
    for words in (html_words, markdown_words, terminal):
        assert diagnosis in words
        assert f"at x1={x1!r}," in words
        assert "1 check: 0 hold, 1 fails" in words and "1 checks" not in words
        assert "counterexample" in words and "numerically" not in words
    assert html_words == markdown_words
