"""Receipts in SQLite on the backend's volume."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    merchant TEXT NOT NULL,
    amount REAL NOT NULL,
    currency TEXT NOT NULL,
    user_type TEXT NOT NULL,
    status TEXT NOT NULL,
    image BLOB,
    image_bytes INTEGER NOT NULL DEFAULT 0,
    ocr_confidence REAL,
    extracted_merchant TEXT,
    extracted_total REAL,
    extracted_date TEXT,
    failure_reason TEXT,
    processed_at REAL
);
CREATE INDEX IF NOT EXISTS receipts_created ON receipts (created_at);
"""

# Everything but the image itself: responses and listings never carry image bytes.
PUBLIC_COLUMNS = ("id", "created_at", "merchant", "amount", "currency", "user_type", "status",
                  "image_bytes", "ocr_confidence", "extracted_merchant", "extracted_total",
                  "extracted_date", "failure_reason", "processed_at")


class ReceiptStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ping(self) -> None:
        with self._lock:
            self._db.execute("SELECT 1").fetchone()

    def insert(self, merchant: str, amount: float, currency: str, user_type: str,
               image: bytes | None) -> dict:
        receipt_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute(
                "INSERT INTO receipts (id, created_at, merchant, amount, currency, user_type, status,"
                " image, image_bytes) VALUES (?, ?, ?, ?, ?, ?, 'processing', ?, ?)",
                (receipt_id, time.time(), merchant, amount, currency, user_type, image,
                 len(image) if image else 0))
        return self.get(receipt_id)

    def get(self, receipt_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM receipts WHERE id = ?", (receipt_id,)).fetchone()
        return dict(row) if row else None

    def page(self, page: int, page_size: int) -> tuple[list[dict], int]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM receipts").fetchone()[0]
            rows = self._db.execute(
                f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM receipts ORDER BY created_at DESC, id"
                " LIMIT ? OFFSET ?", (page_size, (page - 1) * page_size)).fetchall()
        return [dict(r) for r in rows], total

    def finish_ocr(self, receipt_id: str, status: str, confidence: float | None = None,
                   merchant: str | None = None, total: float | None = None, date: str | None = None,
                   failure_reason: str | None = None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE receipts SET status = ?, ocr_confidence = ?, extracted_merchant = ?,"
                " extracted_total = ?, extracted_date = ?, failure_reason = ?, processed_at = ?"
                " WHERE id = ?",
                (status, confidence, merchant, total, date, failure_reason, time.time(), receipt_id))
