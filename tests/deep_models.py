"""Deep models as derivation files for the tests and `benchmarks/depth.py`: chains, residual chains, networks.

Each is a function of its depth returning the TOML text, so a test or benchmark can
grow it and see time and size grow with it.
"""

from __future__ import annotations


def _quoted(names: list[str]) -> str:
    return "[" + ", ".join(f'"{name}"' for name in names) + "]"


def _file(title: str, inputs: list[str], parameters: list[str], definitions: list[str]) -> str:
    return (
        f'title = "{title}"\ninputs = {_quoted(inputs)}\ntargets = ["y"]\n'
        f"parameters = {_quoted(parameters)}\n[definitions]\n" + "\n".join(definitions) + "\n"
    )


def tanh_chain(depth: int) -> str:
    """h1 = tanh(w1·x), hₖ = tanh(wₖ·hₖ₋₁), L = (h_depth − y)²: one weight per layer."""
    definitions = ['h1 = "tanh(w1*x)"']
    definitions += [f'h{k} = "tanh(w{k}*h{k - 1})"' for k in range(2, depth + 1)]
    definitions.append(f'L = "(h{depth} - y)^2"')
    weights = [f"w{k}" for k in range(1, depth + 1)]
    return _file(f"A chain of {depth} tanh layers", ["x"], weights, definitions)


def residual_chain(depth: int) -> str:
    """h1 = x + tanh(w1·x + b1), hₖ = hₖ₋₁ + tanh(wₖ·hₖ₋₁ + bₖ), L = (h_depth − y)²/2.

    Every hₖ₋₁ is used twice, so the loss written out in x alone doubles in size per layer.
    """
    definitions = ['h1 = "x + tanh(w1*x + b1)"']
    definitions += [f'h{k} = "h{k - 1} + tanh(w{k}*h{k - 1} + b{k})"' for k in range(2, depth + 1)]
    definitions.append(f'L = "(h{depth} - y)^2/2"')
    parameters = [f"{p}{k}" for k in range(1, depth + 1) for p in "wb"]
    return _file(f"A residual chain of {depth} tanh layers", ["x"], parameters, definitions)


def network(depth: int, width: int = 4) -> str:
    """`depth` tanh layers of `width` units on `width` inputs, then a = σ(v·h + c) and cross-entropy.

    Unit j of layer l is h{l}_{j} = tanh(s{l}_{j}), s{l}_{j} = Σᵢ W{l}_{j}_{i}·h{l-1}_{i} + b{l}_{j};
    layer 0 is the inputs x1 … x_width.
    """
    inputs = [f"x{i}" for i in range(1, width + 1)]
    previous = inputs
    parameters: list[str] = []
    definitions: list[str] = []
    for layer in range(1, depth + 1):
        units = []
        for j in range(1, width + 1):
            weights = [f"W{layer}_{j}_{i}" for i in range(1, width + 1)]
            parameters += [*weights, f"b{layer}_{j}"]
            total = " + ".join(f"{w}*{h}" for w, h in zip(weights, previous, strict=True))
            definitions.append(f's{layer}_{j} = "{total} + b{layer}_{j}"')
            definitions.append(f'h{layer}_{j} = "tanh(s{layer}_{j})"')
            units.append(f"h{layer}_{j}")
        previous = units
    outputs = [f"v{j}" for j in range(1, width + 1)]
    parameters += [*outputs, "c"]
    total = " + ".join(f"{v}*{h}" for v, h in zip(outputs, previous, strict=True))
    definitions.append(f'z = "{total} + c"')
    definitions.append('a = "sigmoid(z)"')
    definitions.append('L = "-(y*log(a) + (1 - y)*log(1 - a))"')
    return _file(f"A network of {depth} layers of {width} tanh units", inputs, parameters, definitions)
