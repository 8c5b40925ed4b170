"""Digest sending speed: 10,000 subscribers with 3 topics each, to a real SMTP server on loopback.

The papers are a month of the Hugging Face archive (../shared/data/hf_daily), indexed with
embeddings; the digest is the weekly one of 2025-W30. Baseline, in the same run: the same
number of one pre-rendered message sent with smtplib over one connection (SMTP alone).

    .venv/bin/python bench/digest_speed.py [--subscribers 10000]
"""

from __future__ import annotations

import argparse
import random
import smtplib
import socket
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from common import TOPICS, setup_django, shared_data_folder


class Counting:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()
    files = sorted((args.data / "hf_daily").glob("2025-07-*.json"))
    if not files:
        sys.exit(f"no Hugging Face archive under {args.data / 'hf_daily'}")

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()

    home = Path(tempfile.mkdtemp(prefix="paperwire-digest-"))
    setup_django(home, PAPERWIRE_EMAIL_URL=f"smtp://127.0.0.1:{port}", PAPERWIRE_BASE_URL="https://papers.example.org")
    from django.utils import timezone

    from paperwire.digests.content import DigestPeriod
    from paperwire.digests.models import Subscriber
    from paperwire.digests.sending import send_period
    from paperwire.ingest.importer import import_files
    from paperwire.search.updating import update_indexes

    print(import_files(files, progress=False).summary(), "|", update_indexes(show_progress=False).summary())
    rng = random.Random(1)
    now = timezone.now()
    Subscriber.objects.bulk_create(
        [
            Subscriber(
                email=f"reader{n}@example.org",
                frequency="weekly",
                state=Subscriber.CONFIRMED,
                confirmed_at=now,
                topics="\n".join(rng.sample(TOPICS, 3)),
            )
            for n in range(args.subscribers)
        ],
        batch_size=2000,
    )

    # Baseline: SMTP alone, one pre-rendered message per subscriber over one connection.
    message = EmailMessage()
    message["From"], message["Subject"] = "papers@example.org", "baseline"
    message.set_content("x" * 6000)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(args.subscribers):
            del message["To"]
            message["To"] = f"reader{n}@example.org"
            smtp.send_message(message)
    baseline = args.subscribers / (time.perf_counter() - started)
    handler.count = 0

    period = DigestPeriod.from_key("weekly:2025-W30")
    started = time.perf_counter()
    report = send_period(period, show_progress=False)
    seconds = time.perf_counter() - started
    rate = report.sent / seconds
    print(f"{report.summary()}; the SMTP server received {handler.count}")
    print(f"baseline: smtplib, one pre-rendered message each   {baseline:8.0f} subscribers/s")
    print(
        f"paperwire digest send (3 topics each)               {rate:8.0f} subscribers/s"
        f"   ({seconds:.1f} s, {baseline / rate:.1f}x the baseline's time)"
    )
    started = time.perf_counter()
    again = send_period(period, show_progress=False)
    print(f"sending again: {again.summary()} in {time.perf_counter() - started:.1f} s")
    controller.stop()


if __name__ == "__main__":
    main()
