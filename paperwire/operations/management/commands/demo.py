"""`paperwire demo`: the demo community on the demo corpus (docs/cli.md)."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from paperwire.discussions.models import Comment, CommentVote
from paperwire.discussions.rendering import clean_text
from paperwire.discussions.threads import CommentError, post_comment, set_comment_vote
from paperwire.papers.models import Paper
from paperwire.people.claims import ClaimRefused, approve
from paperwire.people.models import AuthorClaim, PaperAuthor

DATA = Path(__file__).resolve().parents[3] / "demo" / "community.json"
PREFIX = "demo-"
MARK = "\n\n*Demo comment, seeded by `paperwire demo`: not a real reader's.*"


class Command(BaseCommand):
    help = (
        "Seed the demo community on the demo corpus: demo accounts (named demo-*, no password, no "
        "address), a few comments and replies, comment votes and an approved author claim. "
        "Safe to run again: what is there already is left as it is."
    )

    def handle(self, *args, **options):
        data = json.loads(DATA.read_text(encoding="utf-8"))
        papers = {p.pk: p for p in Paper.objects.filter(pk__in={c["paper"] for c in data["comments"]})}
        missing = sorted({c["paper"] for c in data["comments"]} - set(papers))
        if missing:
            raise CommandError(
                f"the demo corpus is not imported (no paper {', '.join(missing)}): run "
                "`paperwire import paperwire/demo/attention_papers.jsonl` first"
            )
        with transaction.atomic():  # every account checked before anything is written
            users = {name: self.account(name) for name in data["accounts"]}
        comments, added = {}, 0
        for item in data["comments"]:
            body = item["body"] + MARK
            parent = comments[item["reply_to"]] if "reply_to" in item else None
            kept = clean_text(body).strip()
            comment = Comment.objects.filter(author=users[item["by"]], paper_id=item["paper"], body=kept).first()
            if comment is None:
                try:
                    comment = post_comment(users[item["by"]], papers[item["paper"]], body, parent and parent.pk)
                except CommentError as error:  # e.g. the comment replied to was deleted since
                    self.stderr.write(f"demo comment {item['key']} left out: {error.message}")
                    continue
                added += 1
            comments[item["key"]] = comment
        votes = 0
        for item in data["votes"]:
            comment, user = comments.get(item["comment"]), users[item["by"]]
            if comment and not CommentVote.objects.filter(comment=comment, user=user).exists():
                set_comment_vote(user, comment.pk, True)
                votes += 1
        claims = sum(self.claim(users[item["by"]], papers.get(item["paper"]), item) for item in data["claims"])
        self.stdout.write(
            f"demo community: {len(users)} demo accounts, {added} comments added ({len(comments)} in all), "
            f"{votes} comment votes, {claims} author claims approved"
        )

    def account(self, name: str):
        if not name.startswith(PREFIX):
            raise CommandError(f"demo account {name!r} must be named {PREFIX}*")
        user, created = get_user_model().objects.get_or_create(username=name)
        if created:
            user.set_unusable_password()  # nobody logs in as a demo account
            user.save(update_fields=["password"])
        elif user.has_usable_password() or user.email or user.last_login or user.is_staff:
            # Someone's account (sign-up refuses the prefix, but an admin or an older version
            # may have made one): never written as, nor given the demo's author.
            raise CommandError(
                f"an account named {name} exists and is not a demo account (it has a password, an address "
                "or has logged in): nothing was seeded; rename or delete it in the admin first"
            )
        return user

    def claim(self, user, paper: Paper | None, item: dict) -> int:
        """Approve ``user``'s claim to be ``item["name"]`` on ``paper``, as staff would; 1 if done now."""
        paper = paper or Paper.objects.filter(pk=item["paper"]).first()
        link = PaperAuthor.objects.filter(paper=paper, author__name=item["name"]).select_related("author").first()
        if link is None:
            self.stderr.write(f"demo claim left out: {item['name']} is not an author of {item['paper']}")
            return 0
        author = link.author.shown
        if author.user_id:
            return 0  # claimed already (by this demo account, or by a real one: left alone)
        claim = AuthorClaim.objects.filter(user=user, author=author, state=AuthorClaim.PENDING).first()
        if claim is None:
            with transaction.atomic():
                claim = AuthorClaim.objects.create(user=user, author=author, paper=paper, name=item["name"])
        try:
            approve(claim, None)
        except ClaimRefused as error:
            self.stderr.write(f"demo claim left out: {error}")
            return 0
        return 1
