"""Time `symcalc.verify` on models that used to stall it; prints, never fails.

- log-cosh regression (L = log(cosh(z − y))) with n features: every claim proved
  (the issue's target: n = 30 in under 10 s on a 2-core machine; before, 153 s at n = 3);
- a depth-three network with wrong claims (a sign, a factor): refuted, not left running;
- three wrong claims on single-head attention (tests/symbolic/test_course_models.py): refuted at a
  point in processor seconds (target: 10 s each; 40-48 s before);
- the shipped layer_norm_linear: `symcalc verify` of its claims on upstream derivatives (target: 30 s);
- the course models of the property test's grammar (layer norm, attention-style weighting,
  residual, variance and logistic heads): derive + verify in processor seconds (target: 30 s each).

Timed assertions inside tests flaked on a loaded CI machine, so these times are measured here; the
tests assert what is found. The slowest of each section goes, as a dated line, to
benchmarks/RESULTS.md.

Run: python benchmarks/verify_hard.py
"""

from __future__ import annotations

import datetime
import sys
import tempfile
import time
from pathlib import Path

import symcalc
from symcalc.symbolic.functions import text

# The course and attention models are the tests' own (tests/symbolic/): run as a script, the
# repository's root is not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def log_cosh(features: int) -> str:
    xs = [f"x{i}" for i in range(1, features + 1)]
    ws = [f"w{i}" for i in range(1, features + 1)]
    z = " + ".join(f"{w}*{x}" for w, x in zip(ws, xs, strict=True)) + " + b"
    return (
        f"inputs = {xs}\ntargets = ['y']\nparameters = {[*ws, 'b']}\n[definitions]\n"
        f'z = "{z}"\nL = "log(cosh(z - y))"\n[claims]\n'
        '"dL/db" = "tanh(z - y)"\n"dL/dw1" = "tanh(z - y)*x1"\n'
    )


DEEP = """inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[definitions]
z = "w1*x1 + w2*x2 + b"
h1 = "z^3"
h2 = "(w1*h1 + b)^2"
h3 = "sigmoid(h2 + h1)"
L = "softplus(-y*h3)"
"""


def load(text: str, folder: Path, name: str) -> symcalc.Model:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return symcalc.load(str(path))


def main() -> None:
    slowest: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        print("log-cosh regression: symcalc verify --strict (derive + every check)")
        for features in (1, 3, 10, 30):
            model = load(log_cosh(features), Path(folder), f"log_cosh_{features}")
            start = time.perf_counter()
            checks = symcalc.verify(symcalc.derive(model), strict=True)
            elapsed = time.perf_counter() - start
            proved = sum(c.proved for c in checks)
            held = all(c.holds for c in checks)
            counts = f"{len(checks)} checks, {proved} proved, all hold: {held}"
            print(f"  n = {features:3d}: {elapsed:6.2f} s, {counts}")
            slowest[f"log-cosh n = {features}"] = elapsed
        model = load(DEEP, Path(folder), "deep")
        derivation = symcalc.derive(model)
        print("depth-three network: wrong claims (check_claim)")
        for parameter, gradient in derivation.gradients.items():
            for slip, wrong in (("sign", -gradient), ("factor 2", 2 * gradient)):
                start = time.perf_counter()
                check = symcalc.check_claim(model, f"dL/d{parameter.name}", text(wrong))
                elapsed = time.perf_counter() - start
                print(f"  dL/d{parameter.name} {slip:8s}: {elapsed:6.2f} s, {check.status}")
        slowest["wrong attention claim"] = wrong_attention_claims(Path(folder))
        slowest["layer_norm_linear"] = layer_norm()
        slowest["course model"] = course_models(Path(folder))
    line = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest.items())
    print(f"slowest: {line}")
    with (Path(__file__).parent / "RESULTS.md").open("a", encoding="utf-8") as handle:
        handle.write(f"- {datetime.date.today().isoformat()} verify_hard.py (processor seconds): {line}\n")
    sys.stdout.flush()


def wrong_attention_claims(folder: Path) -> float:
    """The wrong attention claims of tests/symbolic/test_course_models.py, each by check_claim."""
    from tests.symbolic.test_course_models import ATTENTION, WRONG_ATTENTION_CLAIMS

    print("single-head attention: wrong claims (check_claim), processor seconds (target 10 s each)")
    model = load(ATTENTION, folder, "attention")
    times = []
    for lhs, rhs in WRONG_ATTENTION_CLAIMS:
        start = time.process_time()
        check = symcalc.check_claim(model, lhs, rhs)
        times.append(time.process_time() - start)
        print(f"  {lhs} = {rhs[:40]}: {times[-1]:6.2f} s, {check.status}")
    return max(times)


def layer_norm() -> float:
    """`symcalc verify derivations/layer_norm_linear.toml`: its claims on upstream derivatives."""
    path = Path(__file__).parent.parent / "derivations" / "layer_norm_linear.toml"
    print("layer_norm_linear: derive + verify, processor seconds (target 30 s)")
    start = time.process_time()
    checks = symcalc.verify(symcalc.derive(symcalc.load(str(path))))
    elapsed = time.process_time() - start
    proved, held = sum(c.proved for c in checks), all(c.holds for c in checks)
    print(f"  {elapsed:6.2f} s, {len(checks)} checks, {proved} proved, all hold: {held}")
    return elapsed


def course_models(folder: Path) -> float:
    """Every course model of tests/symbolic/test_vector_properties.py's grammar, as verify runs it."""
    import itertools

    from tests.symbolic.test_vector_properties import BLOCKS, HEADS, CourseModel

    print("course models: derive + verify, processor seconds (target 30 s each)")
    activations = ("tanh({})", "sigmoid({})", "{} * sigmoid({})")
    times = []
    for normalised, block, activation, head in itertools.product((False, True), BLOCKS, activations, HEADS):
        if normalised and block == "residual":
            continue  # left out of the tests too (23-26 s of the 30)
        course = CourseModel(normalised, block, activation, head)
        model = load(course.toml(), folder, "course")
        start = time.process_time()
        checks = symcalc.verify(symcalc.derive(model))
        elapsed = time.process_time() - start
        held = all(c.holds for c in checks)
        print(f"  {course.label}: {elapsed:6.2f} s, all hold: {held}")
        times.append(elapsed)
    return max(times)


if __name__ == "__main__":
    main()
