"""Independent verification of a derivation: every step, gradient and claim, proved or refuted."""
