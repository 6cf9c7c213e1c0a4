"""What the alert sink understands: Slack incoming-webhook messages, PagerDuty Events v2 and
Alertmanager's generic webhook, each reduced to one record a person or a test can read."""

from __future__ import annotations

import re
import time
from typing import Any

# Alertmanager's title shape, which rvlocal's templates keep: "[FIRING:2] HighErrorRate svc (critical)".
SLACK_TITLE = re.compile(r"^\[(?P<status>FIRING|RESOLVED)(?::\d+)?\]\s+(?P<alertname>[A-Za-z_:][A-Za-z0-9_:]*)"
                         r"(?:\s+(?P<service>\S+))?(?:\s+\((?P<severity>\w+)\))?")
PD_ACTIONS = {"trigger": "firing", "resolve": "resolved", "acknowledge": "acknowledged"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}


class Invalid(ValueError):
    """The payload is not what the integration would accept; the message says why."""


def slack_record(channel_path: str, body: Any) -> dict:
    if not isinstance(body, dict):
        raise Invalid("invalid_payload: a JSON object is required")
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list) or not (body.get("text") or attachments):
        raise Invalid("no_text: a message needs text or attachments")
    first = attachments[0] if attachments and isinstance(attachments[0], dict) else {}
    title = first.get("title") or body.get("text", "").splitlines()[0]
    match = SLACK_TITLE.match(title or "")
    return {
        "received_at": time.time(), "kind": "slack",
        "receiver": body.get("channel") or f"#{channel_path}",
        "status": match["status"].lower() if match else "",
        "alertnames": [match["alertname"]] if match else [],
        "severity": (match["severity"] or "") if match else "",
        "title": title, "title_link": first.get("title_link", ""),
        "text": first.get("text", body.get("text", "")), "color": first.get("color", ""),
        "buttons": [{"text": a.get("text", ""), "url": a.get("url", "")}
                    for a in first.get("actions", []) if isinstance(a, dict)],
        "payload": body,
    }


def pagerduty_record(body: Any) -> dict:
    if not isinstance(body, dict):
        raise Invalid("a JSON object is required")
    errors = []
    key = body.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("routing_key must be a 32 character string")
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        errors.append(f"event_action must be one of {', '.join(PD_ACTIONS)}")
    payload = body.get("payload") or {}
    if action == "trigger":
        for field in ("summary", "source", "severity"):
            if not payload.get(field):
                errors.append(f"payload.{field} is required for a trigger")
        if payload.get("severity") and payload["severity"] not in PD_SEVERITIES:
            errors.append(f"payload.severity must be one of {', '.join(sorted(PD_SEVERITIES))}")
    if errors:
        raise Invalid("; ".join(errors))
    details = payload.get("custom_details") or {}
    kept = {**body, "routing_key": "…" + key[-4:]}  # never keep a routing key whole
    return {
        "received_at": time.time(), "kind": "pagerduty", "receiver": "pagerduty",
        "status": PD_ACTIONS[action],
        "alertnames": [details["alertname"]] if details.get("alertname") else [],
        "severity": payload.get("severity", ""), "title": payload.get("summary", ""),
        "dedup_key": body.get("dedup_key", ""), "details": details,
        "buttons": [{"text": l.get("text", ""), "url": l.get("href", "")}
                    for l in body.get("links", []) if isinstance(l, dict)],
        "payload": kept,
    }


def webhook_record(body: Any) -> dict:
    try:
        alerts = body["alerts"]
        names = sorted({a.get("labels", {}).get("alertname", "") for a in alerts})
    except (KeyError, TypeError, AttributeError) as exc:
        raise Invalid(f"not an Alertmanager webhook payload: {exc!r}") from None
    return {"received_at": time.time(), "kind": "webhook", "receiver": body.get("receiver", ""),
            "status": body.get("status", ""), "alertnames": names,
            "severity": body.get("commonLabels", {}).get("severity", ""), "payload": body}
