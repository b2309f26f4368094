"""The campaign report as text: the full table (`christmas-tasks report`) and the few-line summary the daily flow
posts to Discord."""

from __future__ import annotations

from christmas_tasks.usecases.report.model import WINDOW_DAYS, CampaignReport, EmailCounts, percent, shown

NAME_WIDTH = 15  # "onboarding #3" and two spaces
TEXT_DAYS = 14  # the text shows the last two weeks of sends per day; JSON and HTML show every day


def _inline(counts: dict[str, int]) -> str:
    shown = [f"{name} {count}" for name, count in counts.items() if count]
    return " · ".join(shown) if shown else "none"


def _heading(report: CampaignReport) -> str:
    period = f"since {report.since.isoformat()}" if report.since else "since the start"
    return f"{report.campaign}: campaign report, {report.generated_at:%Y-%m-%d %H:%M} UTC ({period})"


def _read_from(report: CampaignReport) -> str:
    if report.requests is None:
        return f"Read from {report.source}."
    return f"Read from {report.source} in {report.requests} request{'s' if report.requests != 1 else ''}."


def render_text(report: CampaignReport) -> str:
    lines = [_heading(report), _read_from(report), ""]

    lines.append(f"Contacts: {report.contacts} (as they are now)")
    width = max([len("Campaign status"), *(len(name) for name in report.by_campaign_status)])
    lines.append(f"  {'Campaign status':<{width}}  contacts")
    lines += [f"  {name:<{width}}  {count:>8}" for name, count in report.by_campaign_status.items()]
    lines.append(f"  Segment: {_inline(report.by_segment)}")
    lines.append(f"  Email status: {_inline(report.by_email_status)}")
    lines.append("")

    lines.append(f"  {'Sequence':<12}{'started':>8}{'running':>9}{'completed':>11}{'stopped':>9}")
    for row in report.sequences:
        reasons = f"  ({_inline(row.stopped)})" if row.stopped else ""
        stopped = sum(row.stopped.values())
        lines.append(f"  {row.sequence:<12}{row.started:>8}{row.running:>9}{row.completed:>11}{stopped:>9}{reasons}")
    lines.append("")

    template_width = max([len("template"), *(len(row.template) for row in report.emails)])
    header = f"  {'Email':<{NAME_WIDTH}}{'template':<{template_width}}  {'sent':>6}{'skipped':>9}{'held':>6}"
    lines.append(f"{header}{'failed':>8}{'replied':>9}")
    lines += [_email_line(email, template_width) for email in report.emails]
    total = f"  {'total':<{NAME_WIDTH}}{'':<{template_width}}  {report.sent:>6}"
    lines.append(f"{total}{shown(report.skipped):>9}{shown(report.held):>6}{shown(report.failed):>8}"
                 f"{shown(report.replied_emails):>9}")
    if report.attempts_recorded:
        lines.append(f"  Skipped, by reason: {_inline(report.skip_reasons)}")
        lines.append(f"  Duplicate sends stopped by the ledger: {report.duplicates_stopped}")
        lines.append(f"  Replies: {replies_line(report)}")
    lines.append("")
    lines += _engagement_lines(report)
    lines.append("")

    lines.append(f"Deliverability, of the {report.emailed} address{'es' if report.emailed != 1 else ''} emailed:")
    for name, share in report.deliverability:
        lines.append(f"  {name:<13}{share.count:>5}{share.percent:>8}" + (f"  {share.why}" if share.why else ""))

    days = report.sends_per_day[-TEXT_DAYS:]
    if days:
        lines.append("")
        lines.append(f"Sends per day (UTC, last {len(days)} day{'s' if len(days) != 1 else ''}):")
        most = max(count for _, count in days) or 1
        for day, count in days:
            bar = "#" * round(30 * count / most)
            lines.append(f"  {day.isoformat()}  {count:>5}  {bar}")
    if report.notes:
        lines.append("")
        lines += [f"Note: {note}." for note in report.notes]
    return "\n".join(lines) + "\n"


def _email_line(row: EmailCounts, template_width: int) -> str:
    name = f"{row.sequence} #{row.number}"
    counts = f"{row.sent:>6}{shown(row.skipped):>9}{shown(row.held):>6}{shown(row.failed):>8}{shown(row.replied):>9}"
    return f"  {name:<{NAME_WIDTH}}{row.template:<{template_width}}  {counts}"


WEAK_SIGNAL = "a weak signal: Apple Mail Privacy Protection opens every message it receives"
_ENGAGEMENT_HEADER = (f"  {'Engagement':<{NAME_WIDTH}}{'sent':>6}{'delivered':>11}{'delayed':>9}{'opened*':>9}"
                      f"{'clicked':>9}{'click rate':>12}{'replied':>9}{'bookings':>10}{'payments':>10}")


def _engagement_lines(report: CampaignReport) -> list[str]:
    """What people did with each email sent, what it is credited with, and the conversion per segment."""
    def line(name: str, row: EmailCounts | CampaignReport, replied: int | None, bookings: int, payments: int) -> str:
        counts = (f"{row.sent:>6}{total(row, 'delivered'):>11}{total(row, 'delivery_delayed'):>9}"
                  f"{total(row, 'opened'):>9}{total(row, 'clicked'):>9}{percent(row.click_rate):>12}")
        return f"  {name:<{NAME_WIDTH}}{counts}{shown(replied):>9}{bookings:>10}{payments:>10}"

    outcomes = report.outcomes
    lines = [_ENGAGEMENT_HEADER]
    lines += [line(f"{row.sequence} #{row.number}", row, row.replied, row.bookings, row.payments)
              for row in engaged_rows(report)]
    lines.append(line("total", report, report.replied_emails, outcomes.bookings_attributed,
                      outcomes.payments_attributed))
    lines.append(f"  * opened: {WEAK_SIGNAL}.")
    lines += [f"  {text}" for text in attribution_lines(report)]
    lines.append("")
    lines.append("Conversion by segment (contacts as they are now):")
    width = max([len("Segment"), *(len(row.segment) for row in report.conversion)])
    lines.append(f"  {'Segment':<{width}}  {'assessed':>8}  {'booked':>15}  {'paid':>15}")
    for row in report.conversion:
        booked = f"{row.booked} ({percent(row.booked_rate)})"
        paid = f"{row.paid} ({percent(row.paid_rate)})"
        lines.append(f"  {row.segment:<{width}}  {row.assessed:>8}  {booked:>15}  {paid:>15}")
    return lines


def total(row: EmailCounts | CampaignReport, column: str) -> int:
    """An engagement column of an email, or its total over the report's emails."""
    return row.total(column) if isinstance(row, CampaignReport) else int(getattr(row, column))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def engaged_rows(report: CampaignReport) -> list[EmailCounts]:
    """The emails sent in the period or credited with a booking or payment (the engagement table's rows)."""
    return [row for row in report.emails if row.sent or row.bookings or row.payments]


def attribution_lines(report: CampaignReport) -> list[str]:
    """The period's bookings and payments, how many were credited to an email, and the rule, in words."""
    o = report.outcomes
    period = f"since {report.since.isoformat()}" if report.since else "in all"
    bookings = (f"Bookings {period}: {o.bookings}, {o.bookings_attributed} after an email, "
                f"{o.bookings_to_no_email} with no email in the {WINDOW_DAYS} days before")
    if o.undated_bookings:
        bookings += f"; {o.undated_bookings} more booked by status alone (no booking time: not attributed)"
    return [
        bookings,
        f"Payments {period}: {o.payments}, {o.payments_attributed} after an email, {o.payments_to_no_email} with no "
        f"email in the {WINDOW_DAYS} days before",
        f"(Each counts for the last email the contact clicked in the {WINDOW_DAYS} days before it, else the last one "
        "sent in them.)",
    ]


def best_email_line(report: CampaignReport) -> str:
    """The best email of the day: the most bookings attributed among the bookings of the last 24 hours."""
    o, best = report.outcomes, report.outcomes.best_email
    if best is None:
        if not o.bookings_last_24_hours:
            return "Best email of the day: none (no booking in the last 24 hours)"
        return (f"Best email of the day: none ({_plural(o.bookings_last_24_hours, 'booking')} in the last 24 hours, "
                "none after an email of this campaign)")
    return (f"Best email of the day: {best.sequence} #{best.number} ({best.template}), "
            f"{_plural(best.bookings, 'booking')} of the {o.bookings_last_24_hours} in the last 24 hours, "
            f"click rate {percent(best.click_rate)}")


def replies_line(report: CampaignReport) -> str:
    """The replies in words: people's (those to no email of the campaign among them), and the automatic ones apart."""
    if report.replies is None:
        return "not recorded"
    apart = f" ({report.replies_to_no_email} to no email of this campaign)" if report.replies_to_no_email else ""
    return f"{report.replies} from people{apart}; {report.auto_replies} automatic, counted apart"


def render_summary(report: CampaignReport) -> str:
    """A few lines for a chat channel (Discord's 2,000-character limit is far off)."""
    period = f"since {report.since.isoformat()}" if report.since else "in all"
    stopped = sum(sum(row.stopped.values()) for row in report.sequences)
    running = sum(row.running for row in report.sequences)
    completed = sum(row.completed for row in report.sequences)
    emails = f"{report.sent} sent"
    if report.attempts_recorded:
        emails += f" · {report.skipped} skipped · {report.held} held · {report.failed} failed"
        emails += f" · {report.replies} replied"
    else:
        emails += " (skipped and failed not recorded)"
    rates = " · ".join(f"{name} {share.count} ({share.percent}{', ' + share.why if share.why else ''})"
                       for name, share in report.deliverability)
    lines = [
        f"{report.campaign}: daily report, {report.generated_at:%Y-%m-%d %H:%M} UTC",
        f"Contacts {report.contacts}: {_inline(report.by_campaign_status)}",
        f"Sequences: {running} running · {completed} completed · {stopped} stopped",
        f"Emails {period}: {emails}",
        f"Of {report.emailed} address{'es' if report.emailed != 1 else ''} emailed: {rates}",
        f"Bookings {period}: {report.outcomes.bookings} ({report.outcomes.bookings_attributed} after an email) · "
        f"payments {report.outcomes.payments} ({report.outcomes.payments_attributed} after an email)",
        best_email_line(report),
    ]
    return "\n".join(lines)
