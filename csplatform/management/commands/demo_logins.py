"""``manage.py demo_logins``: who can sign in to the demo tenants, and with which password."""

from __future__ import annotations

from itertools import groupby

from django.core.management.base import BaseCommand, CommandParser

from csplatform import demo
from csplatform.models import Role

CSMS_SHOWN = 8


class Command(BaseCommand):
    help = "Print the demo tenants' logins and their password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help=f"List every CSM, not only the first {CSMS_SHOWN}.")

    def handle(self, *args, **options) -> None:
        logins = demo.demo_logins()
        if not logins:
            self.stdout.write("No demo data here. Create it with: python manage.py seed_demo")
            return
        rows: list[tuple[str, str, str, str]] = []
        notes: list[str] = []
        for tenant, members in groupby(logins, key=lambda login: login.tenant):
            members = list(members)
            csms = [login for login in members if login.role == Role.CSM.label]
            hidden = [] if options["all"] else csms[CSMS_SHOWN:]
            rows += [(login.email, login.role, login.full_name, tenant) for login in members if login not in hidden]
            if hidden:
                notes.append(
                    f"{tenant}: {len(hidden):,} more CSMs, {hidden[0].email} to {hidden[-1].email} (--all lists them)."
                )
        header = ("E-mail", "Role", "Name", "Tenant")
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
        self.stdout.write("Demo logins\n")
        for row in [header, tuple("-" * width for width in widths), *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        for note in notes:
            self.stdout.write(note)
        self.stdout.write(f"\nPassword of every demo login: {demo.DEMO_PASSWORD}")
