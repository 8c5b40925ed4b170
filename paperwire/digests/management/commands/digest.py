from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from paperwire.core import argtypes
from paperwire.digests.content import DigestPeriod
from paperwire.digests.notify import send_notifications
from paperwire.digests.sending import send_period


class Command(BaseCommand):
    help = "Send the digest of a period to every confirmed subscriber, exactly once each; or the notification mails."

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="action", required=True, metavar="{send,notify}")
        send = subcommands.add_parser("send", help="send a period's digests")
        send.add_argument(
            "--frequency",
            choices=("daily", "weekly"),
            help="only this frequency (default: both, each for its own period)",
        )
        send.add_argument(
            "--date",
            type=argtypes.day,
            help="the day, or a day of the ISO week (default: the last complete one, UTC)",
        )
        send.add_argument("--dry-run", action="store_true", help="print who would get what; send nothing")
        send.add_argument(
            "--resend-uncertain",
            action="store_true",
            help="send again the digests the SMTP server may have (no answer came, or the sender died)",
        )

        notify = subcommands.add_parser(
            "notify", help="mail people the comments they are to be told about (at most one mail an interval)"
        )
        notify.add_argument(
            "--resend-uncertain",
            action="store_true",
            help="send again the notification mails the SMTP server may have",
        )

    def handle(self, *args, action, resend_uncertain, **options):
        if action == "notify":
            report = send_notifications(resend_uncertain=resend_uncertain)
            self.stdout.write(f"notifications: {report.summary()}")
            if report.problem:
                raise CommandError(f"notifications: {report.problem}")
            return
        self.send(resend_uncertain=resend_uncertain, **options)

    def send(self, *, frequency, date, dry_run, resend_uncertain, **options):
        day = date
        today = timezone.now().date()
        problems = []
        for each in [frequency] if frequency else ["daily", "weekly"]:
            period = DigestPeriod.containing(each, day) if day else DigestPeriod.last_complete(each, today)
            report = send_period(period, dry_run=dry_run, resend_uncertain=resend_uncertain)
            if dry_run:
                for line in report.planned:
                    self.stdout.write(line)
                self.stdout.write(f"{period.key}: would send {sum('skipped' not in p for p in report.planned)} digests")
            else:
                self.stdout.write(f"{period.key}: {report.summary()}")
                if report.problem:
                    problems.append(f"{period.key}: {report.problem}")
        if problems:
            # Individual bounces and deferrals are routine; a run that delivered nothing is not.
            raise CommandError("; ".join(problems))
