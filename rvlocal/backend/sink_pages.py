"""HTML for people: notifications drawn the way Slack and PagerDuty show them, and runbooks."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime

STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;background:#f4f5f7;margin:0;padding:24px;color:#1d1c1d}
h1{font-size:20px;margin:0 0 4px} .sub{color:#616061;margin-bottom:20px;font-size:13px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);margin:0 0 14px;padding:12px 16px;max-width:900px}
.meta{font-size:12px;color:#616061;margin-bottom:8px}
.slack{display:flex;gap:10px}.bar{width:4px;border-radius:2px;flex:none}
.title{font-weight:700;margin-bottom:4px}.title a{color:#1264a3;text-decoration:none}
.text{white-space:pre-wrap;font-size:14px;line-height:1.45}
.btn{display:inline-block;border:1px solid #ddd;border-radius:4px;padding:4px 12px;margin:8px 8px 0 0;font-size:13px;color:#1d1c1d;text-decoration:none;font-weight:600}
.pd .head{display:flex;align-items:center;gap:8px;font-weight:700}
.sev{color:#fff;border-radius:3px;padding:1px 7px;font-size:12px;text-transform:uppercase}
.sev.critical{background:#c4314b}.sev.error{background:#e36a00}.sev.warning{background:#f2c744;color:#1d1c1d}.sev.info{background:#5b8def}
.state{font-size:12px;border-radius:3px;padding:1px 6px;border:1px solid #999}.state.resolved{border-color:#2eb67d;color:#2eb67d}
table{border-collapse:collapse;font-size:13px;margin-top:8px}td{padding:2px 10px 2px 0;vertical-align:top}td:first-child{color:#616061}
pre{background:#f8f8f8;padding:8px;overflow:auto;font-size:12px}
"""
SLACK_COLOURS = {"danger": "#e01e5a", "warning": "#ecb22e", "good": "#2eb67d"}


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _slack_markup(text: str) -> str:
    """Slack mrkdwn's *bold* on escaped text."""
    return re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", _e(text))


def _buttons(buttons: list[dict]) -> str:
    return "".join(f'<a class="btn" href="{_e(b["url"])}">{_e(b["text"])}</a>' for b in buttons if b.get("url"))


def _slack(r: dict) -> str:
    colour = SLACK_COLOURS.get(r.get("color", ""), r.get("color") or "#ddd")
    title = _e(r.get("title", ""))
    if r.get("title_link"):
        title = f'<a href="{_e(r["title_link"])}">{title}</a>'
    return (f'<div class="card"><div class="meta">Slack · {_e(r["receiver"])} · {_when(r["received_at"])}</div>'
            f'<div class="slack"><div class="bar" style="background:{_e(colour)}"></div><div>'
            f'<div class="title">{title}</div><div class="text">{_slack_markup(r.get("text", ""))}</div>'
            f'{_buttons(r.get("buttons", []))}</div></div></div>')


def _pagerduty(r: dict) -> str:
    def cell(value) -> str:
        return "<br>".join(_e(v) for v in value) if isinstance(value, list) else _e(value)

    details = "".join(f"<tr><td>{_e(k)}</td><td>{cell(v)}</td></tr>" for k, v in r.get("details", {}).items() if v)
    state = "resolved" if r["status"] == "resolved" else "triggered"
    return (f'<div class="card pd"><div class="meta">PagerDuty · {_when(r["received_at"])} · dedup {_e(r.get("dedup_key", ""))}</div>'
            f'<div class="head"><span class="sev {_e(r.get("severity", ""))}">{_e(r.get("severity", "") or "—")}</span>'
            f'<span class="state {state}">{state}</span>{_e(r.get("title", ""))}</div>'
            f'<table>{details}</table>{_buttons(r.get("buttons", []))}</div>')


def _other(r: dict) -> str:
    body = r.get("payload", r.get("body", ""))
    shown = json.dumps(body, indent=2)[:4000] if not isinstance(body, str) else body[:4000]
    label = "malformed payload: " + r.get("error", "") if r["kind"] == "malformed" else f"webhook · {r.get('receiver', '')}"
    return (f'<div class="card"><div class="meta">{_e(label)} · {_when(r["received_at"])}</div>'
            f"<pre>{_e(shown)}</pre></div>")


def notifications_page(records: list[dict]) -> str:
    render = {"slack": _slack, "pagerduty": _pagerduty}
    cards = "".join(render.get(r["kind"], _other)(r) for r in records) or "<p>No notifications yet.</p>"
    return (f'<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
            f"<title>rvlocal alert sink</title><style>{STYLE}</style></head><body>"
            f"<h1>What production would have sent</h1><div class=\"sub\">{len(records)} notifications, newest first; "
            f"filter with ?receiver=&amp;alertname=&amp;status=&amp;kind=; JSON at /api/notifications</div>"
            f"{cards}</body></html>")


def _markdown(text: str) -> str:
    """Headings, bullet and numbered lists, `code`, **bold**, [links](url) and paragraphs:
    what the runbooks use."""
    out, in_list = [], None

    def inline(s: str) -> str:
        s = _e(s)
        s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
        s = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)
        return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', s)

    for line in text.splitlines():
        item = re.match(r"^\s*(?:([-*])|(\d+)\.)\s+(.*)", line)
        kind = ("ul" if item.group(1) else "ol") if item else None
        if in_list and kind != in_list:
            out.append(f"</{in_list}>")
            in_list = None
        if item:
            if not in_list:
                out.append(f"<{kind}>")
                in_list = kind
            out.append(f"<li>{inline(item.group(3))}</li>")
        elif heading := re.match(r"^(#{1,4})\s+(.*)", line):
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    if in_list:
        out.append(f"</{in_list}>")
    return "\n".join(out)


def runbook_page(name: str, text: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>Runbook: {_e(name)}</title>'
            f'<style>{STYLE}</style></head><body><div class="card">{_markdown(text)}</div></body></html>')


def missing_runbook(name: str, known: list[str]) -> str:
    items = "".join(f'<li><a href="/runbooks/{_e(k)}">{_e(k)}</a></li>' for k in known)
    return (f'<!doctype html><html><head><meta charset="utf-8"><style>{STYLE}</style></head><body>'
            f'<div class="card"><h1>No runbook named {_e(name)}</h1><ul>{items}</ul></div></body></html>')
