"""The campaign report as one self-contained HTML file: inline CSS and three inline SVG charts (the funnel, sends
per day, bookings by email), no script, no font, no image, nothing fetched when it is opened. Plain SVG rather than a
plotting library: three bar charts are a few dozen lines, and the image stays free of matplotlib's size.

Every value from the ledger (a status or segment a person typed in Notion, a template name) is escaped.
"""

from __future__ import annotations

import re
from datetime import date
from html import escape

from christmas_tasks.usecases.report.model import ENGAGEMENT, CampaignReport, percent, shown
from christmas_tasks.usecases.report.text import (
    WEAK_SIGNAL,
    attribution_lines,
    best_email_line,
    engaged_rows,
    replies_line,
    total,
)

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #d9e2ec; padding-bottom: .2rem; }
.meta, .note { color: #52606d; }
.tiles { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.tile { border: 1px solid #d9e2ec; border-radius: .4rem; padding: .6rem .9rem; min-width: 8rem; }
.tile b { display: block; font-size: 1.4rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .25rem .7rem; text-align: left; border-bottom: 1px solid #eef2f7; }
.number { text-align: right; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2933; }
"""

ENGAGEMENT_HEADERS = ["email", "template", "sent", "delivered", "delayed", "opened (weak signal)", "clicked",
                      "click rate", "replied", "bookings", "payments"]
_NUMBER = re.compile(r"[\d.,%-]*")  # counts, rates and "-" (not recorded) are right-aligned
_BAR = "#2f6f4e"
_BAR_SENDS = "#b5452b"
_BAR_BOOKINGS = "#1f5f8b"


def _bars_svg(chart_id: str, label: str, bars: list[tuple[str, int, str]], fill: str = _BAR) -> str:
    """Horizontal bars, one per (label, count, tooltip)."""
    label_width, bar_width, row = 170, 420, 26
    most = max((count for _, count, _ in bars), default=0) or 1
    height = row * len(bars) + 10
    width = label_width + bar_width + 60
    parts = [
        f'<svg id="{chart_id}" role="img" aria-label="{escape(label)}" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for n, (name, count, tooltip) in enumerate(bars):
        y = 5 + n * row
        width = round(bar_width * count / most)
        parts.append(f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        parts.append(
            f'<rect class="bar" data-label="{escape(name)}" data-count="{count}" x="{label_width}" y="{y + 3}"'
            f' width="{max(width, 1) if count else 0}" height="{row - 8}" fill="{fill}"><title>{escape(tooltip)}'
            "</title></rect>"
        )
        parts.append(f'<text x="{label_width + width + 6}" y="{y + 16}">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _funnel_svg(stages: dict[str, int]) -> str:
    bars = [(name, count, f"{name}: {count}") for name, count in stages.items()]
    return _bars_svg("funnel-chart", "Contacts by campaign status", bars)


def _bookings_svg(report: CampaignReport) -> str:
    """The bookings of the period attributed to each email, for the emails credited with one."""
    names = [(f"{row.sequence} #{row.number}", row) for row in report.emails if row.bookings]
    bars = [(name, row.bookings, f"{name}, {row.template}: {row.bookings}") for name, row in names]
    if not bars:
        return '<p class="note" id="bookings-chart-empty">No booking in this period is attributed to an email.</p>'
    return _bars_svg("bookings-chart", "Bookings by email", bars, _BAR_BOOKINGS)


def _sends_svg(days: tuple[tuple[date, int], ...]) -> str:
    if not days:
        return '<p class="note" id="sends-chart-empty">No email has been sent in this period.</p>'
    left, plot_height, top, bottom = 40, 180, 10, 40
    step = max(6, min(48, 640 // len(days)))
    width = left + step * len(days) + 10
    height = top + plot_height + bottom
    most = max(count for _, count in days) or 1
    parts = [
        f'<svg id="sends-chart" role="img" aria-label="Emails sent per day" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 5}" y2="{top + plot_height}" stroke="#9aa5b1"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{most}</text>',
        f'<text x="{left - 6}" y="{top + plot_height}" text-anchor="end">0</text>',
    ]
    label_every = -(-44 // step)  # a label ("12-01") every 44 px or more, so labels never overlap
    for n, (day, count) in enumerate(days):
        x = left + n * step
        bar = round(plot_height * count / most)
        label = day.isoformat()
        parts.append(
            f'<rect class="bar" data-label="{label}" data-count="{count}" x="{x + 1}" y="{top + plot_height - bar}"'
            f' width="{step - 2}" height="{bar}" fill="{_BAR_SENDS}"><title>{label}: {count}</title></rect>'
        )
        if n % label_every == 0:
            parts.append(
                f'<text x="{x + step / 2}" y="{top + plot_height + 16}" text-anchor="middle">{label[5:]}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _cell(text: str, tag: str = "td", numeric: bool | None = None) -> str:
    numeric = bool(_NUMBER.fullmatch(text)) if numeric is None else numeric
    return f'<{tag} class="number">{escape(text)}</{tag}>' if numeric else f"<{tag}>{escape(text)}</{tag}>"


def _table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    numeric = [all(_NUMBER.fullmatch(row[n]) for row in rows) for n in range(len(headers))]
    head = "".join(_cell(h, "th", numeric[n]) for n, h in enumerate(headers))
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_html(report: CampaignReport) -> str:
    period = f"since {report.since.isoformat()}" if report.since else "since the start"
    read = f"{report.source}" + (f", {report.requests} requests" if report.requests is not None else "")
    tiles = [
        ("contacts", str(report.contacts)),
        ("emails sent", str(report.sent)),
        ("skipped", shown(report.skipped)),
        ("held", shown(report.held)),
        ("failed", shown(report.failed)),
        ("replies", shown(report.replies)),
        ("click rate", percent(report.click_rate)),
        ("bookings", str(report.outcomes.bookings)),
        ("bounce rate", report.bounced.percent),
        ("complaint rate", report.complained.percent),
        ("unsubscribe rate", report.unsubscribed.percent),
    ]
    tile_html = "".join(
        f'<div class="tile" data-tile="{escape(name)}"><b>{escape(value)}</b>{escape(name)}</div>'
        for name, value in tiles
    )
    sequences = [
        [
            row.sequence,
            str(row.started),
            str(row.running),
            str(row.completed),
            ", ".join(f"{reason} {count}" for reason, count in row.stopped.items()) or "none",
        ]
        for row in report.sequences
    ]
    emails = [
        [f"{row.sequence} #{row.number}", row.template, str(row.sent), shown(row.skipped), shown(row.held),
         shown(row.failed), shown(row.replied)]
        for row in report.emails
    ]
    emails.append(
        ["total", "", str(report.sent), shown(report.skipped), shown(report.held), shown(report.failed),
         shown(report.replied_emails)]
    )
    engagement = [
        [f"{row.sequence} #{row.number}", row.template, str(row.sent), str(row.delivered), str(row.delivery_delayed),
         str(row.opened), str(row.clicked), percent(row.click_rate), shown(row.replied), str(row.bookings),
         str(row.payments)]
        for row in engaged_rows(report)
    ]
    engagement.append(
        ["total", "", str(report.sent), *(str(total(report, column)) for column in ENGAGEMENT),
         percent(report.click_rate), shown(report.replied_emails), str(report.outcomes.bookings_attributed),
         str(report.outcomes.payments_attributed)]
    )
    conversion = [
        [row.segment, str(row.assessed), str(row.booked), percent(row.booked_rate), str(row.paid),
         percent(row.paid_rate)]
        for row in report.conversion
    ]
    attribution = "".join(f"<p>{escape(line)}</p>" for line in attribution_lines(report))
    deliverability = [[name, str(share.count), share.percent, share.why or ""] for name, share in report.deliverability]
    reasons = ""
    if report.attempts_recorded:
        listed = ", ".join(f"{escape(reason)} {count}" for reason, count in report.skip_reasons.items()) or "none"
        reasons = (
            f'<p id="skip-reasons">Skipped, by reason: {listed}. Duplicate sends stopped by the ledger: '
            f"{report.duplicates_stopped}.</p>"
            f'<p id="replies">Replies: {escape(replies_line(report))}.</p>'
        )
    notes = "".join(f'<p class="note">Note: {escape(note)}.</p>' for note in report.notes)
    segments = ", ".join(f"{escape(name)} {count}" for name, count in report.by_segment.items()) or "none"
    statuses = ", ".join(f"{escape(name)} {count}" for name, count in report.by_email_status.items())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{escape(report.campaign)}: campaign report</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{escape(report.campaign)}: campaign report</h1>
<p class="meta">{report.generated_at:%Y-%m-%d %H:%M} UTC · {escape(period)} · read from {escape(read)}</p>
<div class="tiles">{tile_html}</div>
<h2>The funnel: contacts by campaign status (as they are now)</h2>
{_funnel_svg(report.by_campaign_status)}
<p>Segments: {segments}. Email status: {statuses}.</p>
<h2>Emails sent per day (UTC)</h2>
{_sends_svg(report.sends_per_day)}
<h2>Sequences started {escape(period)}</h2>
{_table(["sequence", "started", "running", "completed", "stopped (by reason)"], sequences, "sequences")}
<h2>Emails</h2>
{_table(["email", "template", "sent", "skipped", "held", "failed", "replied"], emails, "emails")}
{reasons}
<h2>What people did with each email, and the bookings it brought</h2>
{_table(ENGAGEMENT_HEADERS, engagement, "engagement")}
<p class="note" id="weak-signal">Opened is {escape(WEAK_SIGNAL)}.</p>
<div id="attribution">{attribution}</div>
<p id="best-email">{escape(best_email_line(report))}.</p>
<h2>Bookings by email, {escape(period)}</h2>
{_bookings_svg(report)}
<h2>Conversion by segment (contacts as they are now)</h2>
{_table(["segment", "assessed", "booked", "booked rate", "paid", "paid rate"], conversion, "conversion")}
<h2>Deliverability, of the {report.emailed} addresses emailed</h2>
{_table(["", "addresses", "rate", "mark"], deliverability, "deliverability")}
{notes}
</body>
</html>
"""
