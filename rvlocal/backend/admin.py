"""GET/PUT /admin/faults, guarded by a bearer token from the environment."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Header, HTTPException

from rvlocal.backend.context import Backend
from rvlocal.backend.faults import FaultUpdate


def router(b: Backend) -> APIRouter:
    def require_token(authorization: str = Header(default="")) -> None:
        expected = b.settings.admin_token
        if not expected:
            raise HTTPException(503, "admin API disabled: set RV_ADMIN_TOKEN or RV_ADMIN_TOKEN_FILE")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "wrong or missing token: send 'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})

    admin = APIRouter(prefix="/admin", dependencies=[Depends(require_token)])

    @admin.get("/faults")
    def get_faults() -> dict:
        return b.faults.snapshot()

    @admin.put("/faults")
    def put_faults(update: FaultUpdate) -> dict:
        b.faults.apply(update)
        snapshot = b.faults.snapshot()
        active = {k: v["value"] for k, v in snapshot.items() if v["active"]}
        b.logger.warning("faults changed", extra={"faults": active})
        return snapshot

    @admin.delete("/faults")
    def clear_faults() -> dict:
        b.faults.clear()
        b.logger.warning("faults cleared", extra={"faults": {}})
        return b.faults.snapshot()

    return admin
