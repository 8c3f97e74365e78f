"""Errors the harness tells apart without importing torch."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed (damaged, or another training's): a fault of the
    checkpoint file, never of the values being fitted (callers that treat a ValueError as a
    refused value, a tuning trial, let this one through)."""
