"""Reads on contacts and their CRM records (`<entity>_<action>`, keyword-only, always scoped).

Lists that grow use keyset pagination: the next page starts after the last row seen, by the
same (column, id) order an index serves, so page 1,000 costs what page 1 costs and rows added
meanwhile neither repeat nor vanish (OFFSET would do both).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from chatdesk.crm.csv_io import MAX_CUSTOM_FIELDS, ImportRow
from chatdesk.crm.models import (
    Contact,
    ContactNote,
    Conversation,
    Label,
    LeadStatusChange,
)
from chatdesk.crm.phones import wa_id_for
from chatdesk.tenancy.models import Membership, Workspace

CONTACT_PAGE_SIZE = 50
EXPORT_CHUNK_SIZE = 1000
CONTACT_SUBLIST_SIZE = 20  # notes and status history on the contact page


@dataclass(frozen=True)
class ContactFilters:
    q: str = ""
    lead_status: str = ""
    source: str = ""
    label: Label | None = None
    owner_id: int | None = None
    unowned: bool = False
    created_from: date | None = None
    created_to: date | None = None  # inclusive


@dataclass(frozen=True)
class ContactCursor:
    """Position after the last contact of a page: (created_at, id), the list's sort key."""

    created_at: datetime
    pk: int

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.pk}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> ContactCursor:
        """Raises ValueError for anything that is not a cursor this code made."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            stamp, pk = raw.rsplit("|", 1)
            created_at = datetime.fromisoformat(stamp)
            if created_at.tzinfo is None:
                raise ValueError("naive timestamp")
            return cls(created_at=created_at, pk=int(pk))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError(
                "This page link is not valid; start again from the first page."
            ) from None

    @classmethod
    def after(cls, contact: Contact) -> ContactCursor:
        return cls(created_at=contact.created_at, pk=contact.pk)


@dataclass
class ContactPage:
    contacts: list[Contact]
    next_cursor: ContactCursor | None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _search_q(text: str) -> Q:
    """Name, e-mail or phone. Phones are stored in E.164: "0812-3456" (a local number with its
    trunk 0) and "+62 812 3456" both find +628123456..."""
    condition = Q(name__icontains=text) | Q(email__icontains=text)
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        condition |= Q(wa_id__contains=digits)
        if digits.startswith("0") and len(digits) >= 4:
            condition |= Q(wa_id__contains=digits.lstrip("0"))
    return condition


def contact_list_filtered(*, workspace: Workspace, filters: ContactFilters) -> QuerySet[Contact]:
    """Every contact matching the filters, newest first (the list and the export)."""
    contacts = Contact.objects.for_workspace(workspace)
    if filters.q:
        contacts = contacts.filter(_search_q(filters.q))
    if filters.lead_status:
        contacts = contacts.filter(lead_status=filters.lead_status)
    if filters.source:
        contacts = contacts.filter(source=filters.source)
    if filters.label is not None:
        # One label: at most one join row per contact, so no DISTINCT is needed.
        contacts = contacts.filter(labels=filters.label)
    if filters.unowned:
        contacts = contacts.filter(owner__isnull=True)
    elif filters.owner_id is not None:
        contacts = contacts.filter(owner_id=filters.owner_id)
    if filters.created_from:
        contacts = contacts.filter(created_at__gte=_day_start(filters.created_from))
    if filters.created_to:
        contacts = contacts.filter(created_at__lt=_day_start(filters.created_to + timedelta(1)))
    return contacts.order_by("-created_at", "-id")


def _with_list_relations(contacts: QuerySet[Contact], workspace: Workspace) -> QuerySet[Contact]:
    return contacts.select_related("owner").prefetch_related(
        Prefetch("labels", queryset=Label.objects.for_workspace(workspace))
    )


def _after(contacts: QuerySet[Contact], cursor: ContactCursor | None) -> QuerySet[Contact]:
    if cursor is None:
        return contacts
    return contacts.filter(
        Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, pk__lt=cursor.pk)
    )


def contact_page(
    *,
    workspace: Workspace,
    filters: ContactFilters,
    after: ContactCursor | None = None,
    size: int = CONTACT_PAGE_SIZE,
) -> ContactPage:
    contacts = _after(contact_list_filtered(workspace=workspace, filters=filters), after)
    rows = list(_with_list_relations(contacts, workspace)[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return ContactPage(
        contacts=rows, next_cursor=ContactCursor.after(rows[-1]) if has_more else None
    )


def contact_iter_filtered(
    *, workspace: Workspace, filters: ContactFilters, chunk_size: int | None = None
) -> Iterator[Contact]:
    """All matching contacts, fetched a keyset chunk at a time (bounded memory, short queries,
    no long-lived server-side cursor while a slow client downloads the export)."""
    size = chunk_size or EXPORT_CHUNK_SIZE
    cursor = None
    while True:
        page = contact_page(workspace=workspace, filters=filters, after=cursor, size=size)
        yield from page.contacts
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def contact_get(*, workspace: Workspace, contact_id: int) -> Contact | None:
    contact = (
        _with_list_relations(Contact.objects.for_workspace(workspace), workspace)
        .filter(pk=contact_id)
        .first()
    )
    if contact is not None:
        contact.workspace = workspace  # known already: saves a query on every later use
    return contact


def contact_get_by_phone(*, workspace: Workspace, phone: str) -> Contact | None:
    return Contact.objects.for_workspace(workspace).filter(wa_id=wa_id_for(phone)).first()


def contact_notes(
    *, contact: Contact, before_id: int | None = None, size: int = CONTACT_SUBLIST_SIZE
) -> tuple[list[ContactNote], int | None]:
    """A page of notes, newest first, and the id to continue from (None on the last page)."""
    notes = ContactNote.objects.for_workspace(contact.workspace).filter(contact=contact)
    if before_id is not None:
        notes = notes.filter(pk__lt=before_id)
    rows = list(notes.select_related("author").order_by("-id")[: size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)


def contact_status_history(
    *, contact: Contact, before_id: int | None = None, size: int = CONTACT_SUBLIST_SIZE
) -> tuple[list[LeadStatusChange], int | None]:
    changes = LeadStatusChange.objects.for_workspace(contact.workspace).filter(contact=contact)
    if before_id is not None:
        changes = changes.filter(pk__lt=before_id)
    rows = list(changes.select_related("changed_by").order_by("-id")[: size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)


def contact_conversations(*, contact: Contact) -> list[Conversation]:
    """One conversation per channel the contact wrote to (bounded by the channels)."""
    return list(
        Conversation.objects.for_workspace(contact.workspace)
        .filter(contact=contact)
        .select_related("channel", "assignee")
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def contact_has_conversations(*, contact: Contact) -> bool:
    return Conversation.objects.for_workspace(contact.workspace).filter(contact=contact).exists()


def label_list(*, workspace: Workspace) -> list[Label]:
    return list(Label.objects.for_workspace(workspace).order_by("name"))


def member_user_list(*, workspace: Workspace) -> list:
    """The users who may own contacts here: the workspace's members."""
    user_ids = Membership.objects.for_workspace(workspace).values("user_id")
    return list(get_user_model().objects.filter(pk__in=user_ids).order_by("email", "pk"))


# --- import ---------------------------------------------------------------------------------


class ImportAction:
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class PlannedRow:
    row: ImportRow
    action: str
    contact: Contact | None = None
    owner: object | None = None
    errors: list[str] = field(default_factory=list)
    changes: dict = field(default_factory=dict)  # field -> new value, for updates
    add_labels: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    rows: list[PlannedRow]
    new_labels: list[str]

    @property
    def error_rows(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.errors]

    @property
    def is_valid(self) -> bool:
        return not self.error_rows

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


def contact_import_plan(
    *, workspace: Workspace, rows: list[ImportRow], lock: bool = False
) -> ImportPlan:
    """What importing `rows` would do. Duplicates by phone UPDATE the existing contact: cells
    that are filled overwrite, empty cells change nothing, labels and custom fields are added
    (never removed), and the source stays what it was. Running the same file twice therefore
    changes nothing the second time. A constant number of queries, whatever the file size."""
    phones = {wa_id_for(r.phone) for r in rows if r.phone}
    existing_qs = Contact.objects.for_workspace(workspace).filter(wa_id__in=phones)
    if lock:
        existing_qs = existing_qs.select_for_update()
    existing = {
        c.wa_id: c
        for c in existing_qs.prefetch_related(
            Prefetch("labels", queryset=Label.objects.for_workspace(workspace))
        )
    }
    members = {u.email.lower(): u for u in member_user_list(workspace=workspace) if u.email}
    labels = {label.name.lower(): label for label in label_list(workspace=workspace)}
    new_labels: dict[str, str] = {}

    planned = []
    for row in rows:
        item = PlannedRow(row=row, action=ImportAction.ERROR, errors=list(row.errors))
        if row.owner_email:
            item.owner = members.get(row.owner_email)
            if item.owner is None:
                item.errors.append(f"Owner “{row.owner_email}” is not a member of this workspace.")
        for name in row.labels:
            if name.lower() not in labels:
                new_labels.setdefault(name.lower(), name)
        if item.errors:
            planned.append(item)
            continue
        contact = existing.get(wa_id_for(row.phone))
        if contact is None:
            item.action = ImportAction.CREATE
            item.add_labels = row.labels
        else:
            item.contact = contact
            item.changes = _import_changes(contact, row, item.owner)
            if len(item.changes.get("custom_fields", ())) > MAX_CUSTOM_FIELDS:
                item.errors.append(
                    f"With this row the contact would have more than {MAX_CUSTOM_FIELDS} "
                    "custom fields."
                )
                planned.append(item)
                continue
            have = {label.name.lower() for label in contact.labels.all()}
            item.add_labels = [n for n in row.labels if n.lower() not in have]
            changed = item.changes or item.add_labels
            item.action = ImportAction.UPDATE if changed else ImportAction.UNCHANGED
        planned.append(item)
    return ImportPlan(rows=planned, new_labels=sorted(new_labels.values()))


def _import_changes(contact: Contact, row: ImportRow, owner) -> dict:
    changes: dict = {}
    for field_name in ("name", "email", "lead_status"):
        value = getattr(row, field_name)
        if value and value != getattr(contact, field_name):
            changes[field_name] = value
    if owner is not None and owner.pk != contact.owner_id:
        changes["owner"] = owner
    merged = {**contact.custom_fields, **row.custom_fields}
    if merged != contact.custom_fields:
        changes["custom_fields"] = merged
    return changes
