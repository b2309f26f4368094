"""Resend, both ways: `mailer` sends (the Mailer port), `receiving` reads the emails Resend received for the business
(a lead's reply). What Resend's webhooks post is read at the edge (christmas_tasks/entrypoints/inbound/resend.py),
where Resend's words are mapped to the package's."""
