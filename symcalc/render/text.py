"""Free text (a title, a note, a path: anything shown as a file or a user wrote it) as characters that
show as themselves.

A terminal obeys what a string carries: ESC sequences clear the screen, set the window title, write
the clipboard (OSC 52), make links (OSC 8), or move the cursor up and erase a line, so that a title
can print a fake "3 checks: 3 hold"; bidirectional controls (U+202E, U+2066–U+2069) make text read
differently from what it says. Every writer passes free text through `printable` before its own
escaping (Rich's markup, LaTeX, Markdown, HTML); JSON keeps the text and escapes these characters
(`json_escaped`).
"""

from __future__ import annotations

# The bidirectional embeddings, overrides and isolates, and the marks (LRM, RLM, ALM).
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def is_control(char: str) -> bool:
    """Whether `char` is a C0 or C1 control, DEL or a bidirectional control."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0 or char in BIDI


def printable(text: str) -> str:
    """`text` with each run of whitespace (newlines and tabs included) one space, and every other
    control character dropped."""
    out: list[str] = []
    for char in text:
        if char.isspace():
            if not out or out[-1] != " ":
                out.append(" ")
        elif not is_control(char):
            out.append(char)
    return "".join(out)


def json_escaped(text: str) -> str:
    """JSON text with the controls that `json.dumps(..., ensure_ascii=False)` leaves as they are
    (DEL, C1 and bidirectional ones; it escapes C0 itself, and its line breaks and indents are C0)
    written as \\uXXXX escapes, which mean the same in a JSON string, the only place they can be."""
    return "".join(f"\\u{ord(char):04x}" if char >= " " and is_control(char) else char for char in text)
