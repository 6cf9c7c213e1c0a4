"""The sample Receipt Vault backend and the alert sink; both run in the image built from
compose/backend/Dockerfile and import nothing from rvlocal outside this package."""
