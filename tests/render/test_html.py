"""`symcalc html`: every shipped model's page loaded in headless Chromium, its DOM checked, a screenshot kept,
and a page of hostile text shown as text with nothing run and nothing fetched.

Chromium's network log (`--log-net-log`) records every request; those the page makes carry the
page's origin as initiator ("null" for a file), the browser's own carry "not an origin". A page
request is what these tests forbid; a control page that does fetch shows that they see one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

import symcalc
from symcalc.render.html import POLICY
from tests.conftest import DERIVATIONS, REPO, Runner, WriteToml
from tests.pdf import needs_pdflatex, pdf_text

MODELS = sorted(p.stem for p in DERIVATIONS.glob("*.toml"))
#: Where the screenshots go: a folder CI can keep (SYMCALC_ARTEFACTS), else test-artefacts/ in the clone.
ARTEFACTS = Path(os.environ.get("SYMCALC_ARTEFACTS", REPO / "test-artefacts"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    return found


def _profile(folder: Path, page: Path) -> str:
    """A new, empty profile for each Chromium run: two runs at once (pytest-xdist's workers) never
    share the default one."""
    return f"--user-data-dir={tempfile.mkdtemp(prefix=f'{page.stem}.profile.', dir=folder)}"


def load(chromium: str, page: Path, folder: Path) -> tuple[str, list[str]]:
    """The page's DOM after its scripts ran, and the URLs of the requests the page itself made."""
    log = folder / f"{page.stem}.netlog.json"
    dom = subprocess.run(
        [chromium, *FLAGS, _profile(folder, page), f"--log-net-log={log}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    events = json.loads(log.read_text(encoding="utf-8"))
    names = {number: name for name, number in events["constants"]["logEventTypes"].items()}
    requests = [
        e["params"]["url"]
        for e in events["events"]
        if names[e["type"]] == "URL_REQUEST_START_JOB"
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
        and not e["params"]["url"].startswith("file:")
    ]
    return dom, requests


def screenshot(chromium: str, page: Path) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTEFACTS / f"{page.stem}.png"
    subprocess.run(
        [
            chromium,
            *FLAGS,
            _profile(page.parent, page),
            f"--screenshot={target}",
            "--window-size=1000,2400",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return target


class _Elements(HTMLParser):
    """Every element's tag and attributes, as the page's own HTML declares them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(text)
    return parser.found


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_every_shipped_page_renders_every_formula_offline(
    chromium: str, run: Runner, tmp_path: Path, name: str
) -> None:
    page = tmp_path / f"{name}.html"
    code, _, err = run(["html", name, "-o", str(page)])
    assert code == 0, err
    source = page.read_text(encoding="utf-8")
    assert f'content="{POLICY}"' in source
    assert not [
        (tag, attrs) for tag, attrs in elements(source) if any(k in attrs for k in ("src", "href"))
    ]  # nothing to fetch: no element points anywhere
    dom, requests = load(chromium, page, tmp_path)
    formulas = source.count('class="math')
    assert formulas >= 9  # a model without a batch form (attention, skip-gram) has nine or ten
    assert dom.count('<span class="katex">') + dom.count('<span class="katex-display">') >= formulas
    assert 'class="katex-error"' not in dom
    assert requests == []
    assert "Verification:" in dom and "fail" in dom and "<svg" in dom
    assert screenshot(chromium, page).stat().st_size > 10_000


def test_the_request_log_sees_a_page_that_fetches(chromium: str, tmp_path: Path) -> None:
    """The control: a page (without our policy) that loads an image and calls fetch is seen doing so."""
    page = tmp_path / "control.html"
    page.write_text('<img src="http://127.0.0.1:9/x.png"><script>fetch("http://127.0.0.1:9/y")</script>')
    _, requests = load(chromium, page, tmp_path)
    assert set(requests) == {"http://127.0.0.1:9/x.png", "http://127.0.0.1:9/y"}


HOSTILE = """
title = "A <script>document.title='pwned'</script> & \\"quoted\\" </div> model"
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
[definitions]
z = "w*x"
L = "(z - y)^2"
[notes]
x = "<img src=\\"http://127.0.0.1:9/img\\" onerror=\\"document.body.dataset.pwned = 1\\">"
y = "</details></section><script>fetch('http://127.0.0.1:9/script')</script>"
"""


def test_a_hostile_page_shows_its_text_and_runs_nothing(
    chromium: str, run: Runner, write_toml: WriteToml, tmp_path: Path
) -> None:
    page = tmp_path / "hostile.html"
    code, _, err = run(["html", str(write_toml(HOSTILE)), "-o", str(page)])
    assert code == 0, err
    dom, requests = load(chromium, page, tmp_path)
    assert requests == []
    assert "<title>pwned</title>" not in dom  # the title's script did not run
    assert "data-pwned" not in dom
    tags = [tag for tag, _ in elements(dom.split("<body", 1)[1])]
    assert "img" not in tags
    assert tags.count("script") == 2  # KaTeX and the line that typesets: no third
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt; &amp; \"quoted\" &lt;/div&gt; model" in dom


def test_html_output_must_be_an_html_file(run: Runner, tmp_path: Path) -> None:
    code, out, err = run(["html", "-o", str(tmp_path / "page.pdf")])
    assert code == 2 and out == "" and "html -o" in err and not (tmp_path / "page.pdf").exists()


def test_a_notebook_shows_the_same_cards() -> None:
    shown = symcalc.derive(symcalc.load())._repr_html_()
    assert shown.startswith('<div class="symcalc">') and "katex.render" in shown
    assert "Step 5 of 5" in shown and '<details class="card" open>' in shown


def test_a_notebook_embeds_katex_once_and_typesets_every_display(
    chromium: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.66 MB of KaTeX went into every display: the session's first embeds it, later ones are their
    cards (23 KB for the seed); a display shown above the one holding KaTeX is typeset too."""
    from symcalc.render import html

    monkeypatch.setattr(html, "_EMBEDDED", [False])
    katex = (REPO / "symcalc" / "render" / "katex" / "katex.min.js").read_text(encoding="utf-8")
    first = symcalc.derive(symcalc.load("two_layer_network_vector"))._repr_html_()
    later = symcalc.derive(symcalc.load())._repr_html_()
    assert katex in first and katex not in later
    assert len(first.encode()) > 600_000 and len(later.encode()) < 30_000
    page = tmp_path / "notebook.html"
    page.write_text(f"<!DOCTYPE html><html><body>{later}{first}</body></html>", encoding="utf-8")
    dom, requests = load(chromium, page, tmp_path)
    assert requests == [] and 'class="katex-error"' not in dom
    maths = len(re.findall(r'class="math[ "]', dom))
    assert maths > 20 and dom.count('data-typeset=""') == maths  # the first display's maths as well
    # where scripts are stripped, each piece of maths is the LaTeX it is written in
    stripped = re.sub(r"<script>.*?</script>", "", later, flags=re.DOTALL)
    assert r'<span class="math">\frac{\partial L}{\partial a} = \frac{1 - y}{1 - a}' in stripped


def test_pictures_show_each_activation_with_its_derivative_and_the_loss() -> None:
    from symcalc.numeric.curves import figures
    from symcalc.render.figures import svg

    drawn = figures(symcalc.derive(symcalc.load()))
    assert drawn[0].caption == "a = sigmoid(z) and its local derivative ∂a/∂z = a*(1 - a)"
    assert drawn[1].caption.startswith("L against a for y = 0 and 1")
    assert drawn[0].marks == ((0.0, 0.25),)  # σ′'s maximum, ¼ at z = 0, marked
    assert "(0, 0.25)" in svg(drawn[0])
    network = [f.caption for f in figures(symcalc.derive(symcalc.load("two_layer_network")))]
    assert any(c.startswith("h1 = tanh(s1)") for c in network)


@needs_pdflatex
def test_the_pdf_has_the_same_pictures(run: Runner, tmp_path: Path) -> None:
    """Drawn in LaTeX's own picture environment: the compiled PDF shows each figure's caption and legend."""
    tex = tmp_path / "seed.tex"
    code, _, err = run(["latex", "-o", str(tex), "--pdf"])
    assert code == 0, err
    text = " ".join(pdf_text(tex.with_suffix(".pdf").read_bytes()).split())
    assert "Pictures" in text
    assert "thick: a = sigmoid(z); thin:" in text and "(0, 0.25)" in text
    assert "L against a for y = 0 and 1" in text
