"""Pydantic request/response models: the API contract (one module per area)."""
