"""Per-message CPU of building + serialising one triggered email (HTML with 3 links, tracking on).

    .venv/bin/python bench/email_build.py [N] [--module channels.email]

Builds N messages (rendered per recipient, 3 tracked links, open pixel, List-Unsubscribe) and
serialises each as the worker does: the bytes from build_message, or aiosmtplib's
flatten_message when it returns an EmailMessage. Best of 5 runs of process CPU time.
"""

from __future__ import annotations

import importlib
import sys
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtplib.email import flatten_message  # noqa: E402

from workflows.shared import Recipient  # noqa: E402

args = [a for a in sys.argv[1:] if a.isdigit()]
N = int(args[0]) if args else 2000
# --module NAME: another builder with the same API (e.g. a saved copy of the old channels/email.py).
name = sys.argv[sys.argv.index("--module") + 1] if "--module" in sys.argv else "channels.email"
mod = importlib.import_module(name)

HTML = (
    "<html><body><h1>Hello {{User.UserAttributes.FirstName}}</h1>"
    '<p>Our <a href="https://shop.example.com/sale?x=1&amp;y=2">sale</a> is on. '
    'See <a href="https://shop.example.com/new">new arrivals</a> or '
    '<a href="https://shop.example.com/account">your account</a>.</p>'
    "<p>Thanks for shopping with us, the Example Shop team.</p></body></html>"
)
CONTENT = {
    "from": "Example Shop <shop@example.com>",
    "subject": "Hi {{User.UserAttributes.FirstName}}, the sale is on",
    "html": HTML,
    "substitutions": [],
}
tracking = mod.Tracking("https://pinpoint.example.com", b"k" * 32)


def one(i: int) -> bytes:
    r = Recipient(
        key=f"campaign/wf-123/0/ep-{i}",
        address=f"user{i}@example.com",
        endpoint_id=f"ep-{i}",
        endpoint={"User": {"UserAttributes": {"FirstName": [f"Ann{i}"]}}},
    )
    msg = mod.build_message(CONTENT, r, tracking, "app-1")
    if isinstance(msg, EmailMessage):  # the stdlib path: aiosmtplib flattens it in send_message
        return flatten_message(msg, utf8=False, cte_type="8bit")
    return msg


for i in range(200):
    one(i)
best = []
for _ in range(5):
    t = time.process_time()
    for i in range(N):
        one(i)
    best.append((time.process_time() - t) / N * 1e6)
print(f"{mod.__name__}: {min(best):.0f} µs CPU per message (best of 5 × {N}); runs: {[round(b) for b in best]}")
