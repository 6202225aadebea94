"""Computing with a derivation: the numeric program, its back ends, gradient descent and code generation."""
