"""Presenting a derivation, its checks and its training: terminal (rich), LaTeX and PDF, Markdown, JSON."""
