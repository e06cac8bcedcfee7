"""Compatibility home of the public sanitizers (``apptuit.utils`` in apptuit-py)."""
from .sanitize import sanitize_name_apptuit, sanitize_name_prometheus

__all__ = ["sanitize_name_apptuit", "sanitize_name_prometheus"]
