"""decayguard: keeps deployed machine-learning models from silently decaying."""
__version__ = "0.1.0"
__all__ = ["__version__"]
