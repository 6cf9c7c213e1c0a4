"""Receipts API: upload (JSON or multipart), get, list; OCR runs after the response."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rvlocal.backend.context import Backend, current_trace_id
from rvlocal.backend.metrics import exemplar


class InjectedFault(RuntimeError):
    """Raised on purpose by the error_rate fault; travels the real unhandled-error path."""


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    merchant: str = Field(min_length=1, max_length=200)
    amount: float = Field(gt=0, le=1_000_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")
    user_type: Literal["individual", "business"] = "individual"
    image_base64: str | None = Field(default=None, description="JSON uploads only")


def router(b: Backend) -> APIRouter:
    async def inject_faults() -> None:
        delay_ms = b.faults.value("extra_latency_ms")
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        rate = b.faults.value("error_rate")
        if rate and b.rng.random() < rate:
            raise InjectedFault(f"fault injection: error_rate={rate}")

    api = APIRouter(prefix="/api", dependencies=[Depends(inject_faults)])

    @api.post("/receipts", status_code=202)
    async def upload(request: Request) -> JSONResponse:
        fields, image = await _read_upload(request, b.settings.max_image_bytes)
        with b.db_span("INSERT INTO receipts"):
            receipt = b.store.insert(fields.merchant, fields.amount, fields.currency, fields.user_type, image)
        b.spawn(_process(b, receipt["id"], fields.merchant, fields.amount, fields.user_type))
        return JSONResponse(receipt, status_code=202, headers={"Location": f"/api/receipts/{receipt['id']}"})

    @api.get("/receipts/{receipt_id}")
    async def get_receipt(receipt_id: str) -> dict:
        with b.db_span("SELECT FROM receipts WHERE id = ?"):
            receipt = b.store.get(receipt_id)
        if receipt is None:
            raise HTTPException(404, f"no receipt {receipt_id}")
        return receipt

    @api.get("/receipts")
    async def list_receipts(page: int = Query(1, ge=1, le=100_000),
                            page_size: int = Query(20, ge=1, le=100)) -> dict:
        with b.db_span("SELECT FROM receipts ORDER BY created_at"):
            items, total = b.store.page(page, page_size)
        return {"items": items, "page": page, "page_size": page_size, "total": total}

    return api


async def _read_upload(request: Request, max_bytes: int) -> tuple[ReceiptIn, bytes | None]:
    content_type = request.headers.get("content-type", "")
    image: bytes | None = None
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            raw = {k: v for k, v in form.items() if k != "image"}
            upload = form.get("image")
            if upload is not None and hasattr(upload, "read"):
                image = await upload.read()
            fields = ReceiptIn.model_validate(raw)
        else:
            try:
                body = await request.json()
            except ValueError:
                raise HTTPException(400, "body must be JSON or multipart/form-data "
                                         "(merchant, amount, currency, user_type, optional image)")
            fields = ReceiptIn.model_validate(body)
            if fields.image_base64:
                try:
                    image = base64.b64decode(fields.image_base64, validate=True)
                except binascii.Error:
                    raise RequestValidationError([{"loc": ("body", "image_base64"), "type": "value_error",
                                                   "msg": "not valid base64", "input": None}])
    except ValidationError as exc:
        raise RequestValidationError(_locate(exc.errors(include_input=False)))
    if image is not None and len(image) > max_bytes:
        raise HTTPException(413, f"image is {len(image)} bytes; the limit is {max_bytes}")
    return fields, image


def _locate(errors: list[dict]) -> list[dict]:
    return [{**e, "loc": ("body", *e["loc"])} for e in errors]


async def _process(b: Backend, receipt_id: str, merchant: str, amount: float, user_type: str) -> None:
    """The OCR step: a child span of the upload's request, finished after the response."""
    provider = b.ocr.provider
    with b.tracer.start_as_current_span("ocr.extract", attributes={
            "ocr.provider": provider, "receipt.id": receipt_id}) as span:
        seconds = b.ocr.latency(b.faults.value("ocr_latency_multiplier"))
        await asyncio.sleep(seconds)
        outcome = b.ocr.extract(merchant, amount, b.faults.value("ocr_failure_rate"))
        with b.db_span("UPDATE receipts SET status"):
            if outcome.ok:
                b.store.finish_ocr(receipt_id, "processed", outcome.confidence, outcome.merchant,
                                   outcome.total, outcome.date)
            else:
                b.store.finish_ocr(receipt_id, "failed", failure_reason=outcome.failure_reason)
        trace_exemplar = exemplar(current_trace_id())
        b.metrics.ocr_duration.labels(provider).observe(seconds, trace_exemplar)
        status = "processed" if outcome.ok else "failed"
        b.metrics.receipts_processed.labels(status, user_type).inc()
        span.set_attribute("ocr.status", status)
        if outcome.ok:
            b.metrics.ocr_confidence.labels(provider).observe(outcome.confidence)
            span.set_attribute("ocr.confidence", outcome.confidence)
            b.logger.info("receipt processed", extra={"receipt_id": receipt_id, "user_type": user_type,
                                                      "ocr_status": status})
        else:
            b.metrics.errors.labels("ocr_failure").inc()
            span.set_status(Status(StatusCode.ERROR, outcome.failure_reason))
            b.logger.warning(f"OCR failed: {outcome.failure_reason}", extra={
                "receipt_id": receipt_id, "user_type": user_type, "ocr_status": status})
