"""The public edge (`christmas-tasks serve`, SPEC §10): the only part of the system the internet reaches.

A small ASGI service (Starlette on uvicorn) in front of Kestra. It checks each sender on the raw request, which
Kestra 1.3 no longer has by the time a flow runs (it parses a JSON body first), then forwards what passed to Kestra's
webhook on the private network, with that flow's key, and answers the sender before the event is handled. It also
serves the unsubscribe pages people see. One module per concern:

- `config`: its settings (`EdgeSettings`), read from its own environment through the one settings table;
- `signatures`: each sender's check: Calendly's HMAC, Svix's and Standard Webhooks' signatures, the per-sender key;
- `replays`: the Svix ids already forwarded (a small SQLite file), so a redelivery changes nothing twice;
- `kestra`: forwarding to Kestra's webhooks with httpx, and asking whether Kestra answers;
- `pages`: the unsubscribe pages (small, self-contained HTML, every value escaped);
- `app`: the routes, reading bodies within their limit, the answers and the one log line per refusal.

Importing this package imports nothing heavy: `christmas-tasks --help` and `plan` stay light (Starlette, uvicorn and
httpx are imported by `app` and `kestra`, which only `serve` and the tests load).
"""
