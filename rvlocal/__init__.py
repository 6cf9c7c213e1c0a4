"""rvlocal: the local twin of Receipt Vault Pro's observability stack."""

__version__ = "0.1.0"
