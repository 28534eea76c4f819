"""Curation app: turn raw user coding queries into a frozen, versioned code benchmark."""

__version__ = "0.1.0"
