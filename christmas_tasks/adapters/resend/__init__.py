"""Resend, both ways: `mailer` sends (the Mailer port), `webhooks` reads what Resend reports back (the
`email-status` event), each mapping Resend's words to the package's at this edge."""
