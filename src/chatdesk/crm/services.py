"""Writes on contacts (`<entity>_<action>`, keyword-only, one transaction each)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatdesk.crm.csv_io import ImportRow
from chatdesk.crm.models import (
    Contact,
    ContactNote,
    Label,
    LeadSource,
    LeadStatus,
    LeadStatusChange,
)
from chatdesk.crm.phones import wa_id_for
from chatdesk.crm.selectors import (
    ImportAction,
    ImportPlan,
    contact_has_conversations,
    contact_import_plan,
)
from chatdesk.tenancy.models import Membership, Workspace

BULK_BATCH_SIZE = 500


class ContactError(ValueError):
    """A change that cannot be made; the message is meant for the user."""


class PhoneTakenError(ContactError):
    pass


class ImportRejectedError(ContactError):
    def __init__(self, plan: ImportPlan | None, message: str):
        super().__init__(message)
        self.plan = plan


def _check_owner(workspace: Workspace, owner) -> None:
    if owner is not None and not (
        Membership.objects.for_workspace(workspace).filter(user=owner).exists()
    ):
        raise ContactError("The owner must be a member of this workspace.")


@transaction.atomic
def contact_create(
    *,
    workspace: Workspace,
    actor,
    name: str,
    phone: str,
    email: str = "",
    lead_status: str = LeadStatus.NEW,
    source: str = LeadSource.MANUAL,
    owner=None,
    custom_fields: dict[str, str] | None = None,
) -> Contact:
    """`phone` is already E.164 (forms normalise it with crm.phones)."""
    _check_owner(workspace, owner)
    try:
        with transaction.atomic():
            contact = Contact.objects.for_workspace(workspace).create(
                workspace=workspace,
                wa_id=wa_id_for(phone),
                phone=phone,
                name=name,
                email=email,
                lead_status=lead_status,
                source=source,
                owner=owner,
                custom_fields=custom_fields or {},
            )
    except IntegrityError:
        raise PhoneTakenError(f"A contact with the number {phone} already exists.") from None
    LeadStatusChange.objects.for_workspace(workspace).create(
        workspace=workspace,
        contact=contact,
        from_status="",
        to_status=lead_status,
        changed_by=actor,
    )
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    name: str,
    phone: str,
    email: str,
    owner,
    custom_fields: dict[str, str],
) -> Contact:
    """Profile fields. The lead status has its own service (it keeps a history)."""
    workspace = contact.workspace
    _check_owner(workspace, owner)
    if phone != contact.phone:
        # Inbound messages find their contact by the number: re-numbering a contact who has
        # conversations would split them from their next message.
        if contact_has_conversations(contact=contact):
            raise ContactError("The number of a contact with conversations cannot change.")
        contact.phone, contact.wa_id = phone, wa_id_for(phone)
    contact.name, contact.email, contact.owner = name, email, owner
    contact.custom_fields = custom_fields
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        raise PhoneTakenError(f"A contact with the number {phone} already exists.") from None
    return contact


@transaction.atomic
def contact_status_change(*, contact: Contact, to_status: str, actor) -> LeadStatusChange | None:
    """Move the lead to `to_status` and record who did it; None when it already was there."""
    if to_status not in LeadStatus.values:
        raise ContactError(f"Unknown lead status “{to_status}”.")
    # Locked, so two agents changing the status at once record two correct steps.
    current = (
        Contact.objects.for_workspace(contact.workspace)
        .select_for_update()
        .values_list("lead_status", flat=True)
        .get(pk=contact.pk)
    )
    if current == to_status:
        return None
    now = timezone.now()
    Contact.objects.for_workspace(contact.workspace).filter(pk=contact.pk).update(
        lead_status=to_status, updated_at=now
    )
    contact.lead_status = to_status
    return LeadStatusChange.objects.for_workspace(contact.workspace).create(
        workspace=contact.workspace,
        contact=contact,
        from_status=current,
        to_status=to_status,
        changed_by=actor,
    )


def contact_note_create(*, contact: Contact, author, text: str) -> ContactNote:
    text = text.strip()
    if not text:
        raise ContactError("A note needs some text.")
    return ContactNote.objects.for_workspace(contact.workspace).create(
        workspace=contact.workspace, contact=contact, author=author, text=text
    )


def _labels_get_or_create(workspace: Workspace, names: list[str]) -> tuple[list[Label], int]:
    """Labels by name, case-insensitively; missing ones are created (and counted)."""
    existing = {label.name.lower(): label for label in Label.objects.for_workspace(workspace).all()}
    wanted, missing = [], []
    for name in names:
        label = existing.get(name.lower())
        if label is None:
            label = Label(workspace=workspace, name=name)
            existing[name.lower()] = label
            missing.append(label)
        wanted.append(label)
    if missing:
        Label.objects.for_workspace(workspace).bulk_create(missing, batch_size=BULK_BATCH_SIZE)
    return wanted, len(missing)


@transaction.atomic
def contact_labels_set(*, contact: Contact, labels: list[Label], new_names: list[str]) -> None:
    """Replace the contact's labels with `labels` plus `new_names` (created when missing)."""
    for label in labels:
        if label.workspace_id != contact.workspace_id:
            raise ContactError("That label belongs to another workspace.")
    chosen = {label.pk: label for label in labels}
    for label in _labels_get_or_create(contact.workspace, new_names)[0]:
        chosen[label.pk] = label
    contact.labels.set(chosen.values())


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    labels_created: int


@transaction.atomic
def contact_import_apply(*, workspace: Workspace, actor, rows: list[ImportRow]) -> ImportResult:
    """Import all rows or none: the plan is made again inside the transaction (rows locked), and
    any error in any row raises ImportRejectedError before anything is written."""
    plan = contact_import_plan(workspace=workspace, rows=rows, lock=True)
    if not plan.is_valid:
        raise ImportRejectedError(plan, "Some rows have errors; nothing was imported.")
    try:
        with transaction.atomic():
            return _import_write(workspace, actor, plan)
    except IntegrityError:
        # Someone added one of these numbers between the plan and the insert.
        raise ImportRejectedError(
            None, "The contacts changed while importing; nothing was imported. Try again."
        ) from None


def _import_write(workspace: Workspace, actor, plan: ImportPlan) -> ImportResult:
    now = timezone.now()
    label_names = {n.lower(): n for item in plan.rows for n in item.add_labels}
    found, labels_created = _labels_get_or_create(workspace, list(label_names.values()))
    labels = {label.name.lower(): label for label in found}

    creates = [item for item in plan.rows if item.action == ImportAction.CREATE]
    new_contacts = [
        Contact(
            workspace=workspace,
            wa_id=wa_id_for(item.row.phone),
            phone=item.row.phone,
            name=item.row.name,
            email=item.row.email,
            lead_status=item.row.lead_status or LeadStatus.NEW,
            source=item.row.source or LeadSource.IMPORT,
            owner=item.owner,
            custom_fields=item.row.custom_fields,
        )
        for item in creates
    ]
    # Both databases return the new ids from a bulk insert (SQLite 3.35+, PostgreSQL).
    Contact.objects.for_workspace(workspace).bulk_create(new_contacts, batch_size=BULK_BATCH_SIZE)
    history = [
        LeadStatusChange(
            workspace=workspace,
            contact=contact,
            from_status="",
            to_status=contact.lead_status,
            changed_by=actor,
        )
        for contact in new_contacts
    ]
    for item, contact in zip(creates, new_contacts, strict=True):
        item.contact = contact

    updates = [item for item in plan.rows if item.action == ImportAction.UPDATE]
    changed_contacts = []
    for item in updates:
        contact = item.contact
        if "lead_status" in item.changes and item.changes["lead_status"] != contact.lead_status:
            history.append(
                LeadStatusChange(
                    workspace=workspace,
                    contact=contact,
                    from_status=contact.lead_status,
                    to_status=item.changes["lead_status"],
                    changed_by=actor,
                )
            )
        if item.changes:
            for name, value in item.changes.items():
                setattr(contact, name, value)
            contact.updated_at = now
            changed_contacts.append(contact)
    if changed_contacts:
        Contact.objects.for_workspace(workspace).bulk_update(
            changed_contacts,
            ["name", "email", "lead_status", "owner", "custom_fields", "updated_at"],
            batch_size=BULK_BATCH_SIZE,
        )
    LeadStatusChange.objects.for_workspace(workspace).bulk_create(
        history, batch_size=BULK_BATCH_SIZE
    )
    through = Contact.labels.through
    links = [
        through(contact_id=item.contact.pk, label_id=labels[name.lower()].pk)
        for item in (*creates, *updates)
        for name in item.add_labels
    ]
    through.objects.bulk_create(links, batch_size=BULK_BATCH_SIZE, ignore_conflicts=True)
    return ImportResult(
        created=len(creates),
        updated=len(updates),
        unchanged=plan.count(ImportAction.UNCHANGED),
        labels_created=labels_created,
    )
