"""The wall-clock limit really stops symbolic work that passes every static check."""

from __future__ import annotations

import time

import pytest

from symcalc.cli.main import main
from symcalc.errors import InternalError, LimitError, SpecError, SpecErrors
from symcalc.isolate import run_limited

from .conftest import WriteToml

# Passes every static cap (small constants, shallow), yet SymPy's automatic rewriting of
# exp(k*log(u)) into u**k builds a number with millions of digits.
RUNAWAY = "w*exp(1000000*log(exp(1000000*log(999999/(x+y)))))"


def _sleep_forever() -> None:
    while True:
        time.sleep(0.01)


def _raise_spec_errors() -> None:
    raise SpecErrors([SpecError("first"), SpecError("second")])


def _divide_by_zero() -> float:
    return 1 / 0


@pytest.mark.slow
def test_runaway_expression_is_stopped_on_time(
    capsys: pytest.CaptureFixture[str],
    write_toml: WriteToml,
) -> None:
    path = write_toml(f'inputs = ["x", "y"]\nparameters = ["w"]\n[definitions]\nL = "{RUNAWAY}"\n')
    start = time.perf_counter()
    code = main(["derive", str(path), "--timeout", "2"])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2
    assert elapsed < 6
    assert str(path) in err and "stopped after 2 s" in err
    assert len(err.splitlines()) == 1


def test_limit_kills_the_child() -> None:
    with pytest.raises(LimitError):
        run_limited(_sleep_forever, timeout=0.5)


def test_errors_cross_the_process_boundary_intact() -> None:
    with pytest.raises(SpecErrors) as info:
        run_limited(_raise_spec_errors, timeout=10)
    assert info.value.lines == ["first", "second"]


def test_unforeseen_exception_is_an_internal_error_with_traceback() -> None:
    with pytest.raises(InternalError) as info:
        run_limited(_divide_by_zero, timeout=10)
    assert "ZeroDivisionError" in str(info.value)
    assert "Traceback" in info.value.trace


def test_cli_reports_a_bug_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import symcalc.cli.work as cli

    monkeypatch.setattr(cli, "derive_file", lambda target, **_: 1 / 0)
    assert main(["derive"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "internal error (ZeroDivisionError" in err and "--debug" in err and "Traceback" not in err
    assert main(["--debug", "derive"]) == 2
    assert "Traceback" in capsys.readouterr().err
