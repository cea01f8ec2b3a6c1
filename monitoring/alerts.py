"""Alerts: one message when an incident opens and one when it resolves, by e-mail and by webhook.

E-mail goes through Airflow's `SmtpNotifier` (the SMTP connection, `smtp_default` unless told
otherwise); the webhook gets a Slack-compatible JSON body (`{"text": ...}`). Both are optional: a channel
without its configuration is skipped, and every attempt is recorded in `monitoring.alerts` with whether it
was delivered (a failed delivery is logged and recorded; it never hides the incident itself).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg

from monitoring import incidents, schema

log = logging.getLogger(__name__)

Send = Callable[[str, str], None]  # (subject, text)


@dataclass(frozen=True)
class Channel:
    name: str
    send: Send


def email_channel(to: list[str], smtp_conn_id: str = "smtp_default") -> Channel:
    """E-mail through Airflow's SMTP notifier (sender: the connection's `from_email` extra)."""

    def send(subject: str, text: str) -> None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        body = f"<pre>{html.escape(text)}</pre>"
        SmtpNotifier(to=to, subject=subject, html_content=body, smtp_conn_id=smtp_conn_id).notify({})

    return Channel("email", send)


def webhook_channel(url: str, timeout: float = 10.0) -> Channel:
    """POST `{"text": ...}` (Slack's incoming-webhook shape) to `url`."""

    def send(subject: str, text: str) -> None:
        httpx.post(url, json={"text": f"*{subject}*\n{text}"}, timeout=timeout).raise_for_status()

    return Channel("webhook", send)


def _message(event: str, incident: dict, report_url: str | None) -> tuple[str, str]:
    if event == "opened":
        subject = f"[shop-warehouse] PROBLEM {incident['kind']}: {incident['summary']}"
        lines = [incident["summary"], f"since {incident['opened_at']:%Y-%m-%d %H:%M:%S %Z}"]
    else:
        subject = f"[shop-warehouse] RESOLVED {incident['kind']}: {incident['summary']}"
        lines = [
            f"Resolved: {incident['summary']}",
            f"open from {incident['opened_at']} to {incident['resolved_at']}",
        ]
    details = incident.get("details") or {}
    lines += [f"{key}: {value}" for key, value in details.items()]
    if report_url:
        lines.append(f"report: {report_url}")
    return subject, "\n".join(lines)


def _deliver(conn: psycopg.Connection, event: str, incident: dict, channels: list[Channel], report_url):
    subject, text = _message(event, incident, report_url)
    for channel in channels:
        try:
            channel.send(subject, text)
            delivered, detail = True, None
        except Exception as failed:  # a broken channel must not stop the others
            log.error("alert via %s failed: %s", channel.name, failed)
            delivered, detail = False, f"{type(failed).__name__}: {failed}"[:500]
        conn.execute(
            "insert into monitoring.alerts (incident_id, event, channel, delivered, detail)"
            " values (%s, %s, %s, %s, %s)",
            [incident["incident_id"], event, channel.name, delivered, detail],
        )


def evaluate(url: str, channels: list[Channel], report_url: str | None = None) -> dict:
    """Reconcile incidents with the current problems and announce what opened or resolved."""
    with psycopg.connect(url) as conn:
        schema.ensure(conn)
        problems = incidents.current_problems(conn)
        opened, resolved = incidents.reconcile(conn, problems)
        for incident in opened:
            _deliver(conn, "opened", incident, channels, report_url)
        for incident in resolved:
            _deliver(conn, "resolved", incident, channels, report_url)
        conn.commit()
    summary = {
        "open": [p.key for p in problems],
        "opened": [i["key"] for i in opened],
        "resolved": [i["key"] for i in resolved],
        "channels": [c.name for c in channels],
    }
    log.info("incidents: %s", summary)
    return summary
