"""The package's version, in one place; imports nothing of the package."""
__all__ = ["__version__"]

__version__ = "0.1.0"
