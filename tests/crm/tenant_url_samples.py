"""Sample arguments for every contact URL (tests/tenancy/tenant_urls.py walks them all)."""

from chatdesk.crm.models import Contact


def _contact(world) -> dict:
    # One contact per world, created on first use; ids are always the world's own.
    contact, _ = Contact.objects.for_workspace(world.workspace).get_or_create(
        wa_id="6281200000001",
        defaults={"workspace": world.workspace, "phone": "+6281200000001", "name": "Sample"},
    )
    return {"contact_id": contact.pk}


SAMPLE_KWARGS = {
    "crm:contacts": lambda world: {},
    "crm:contact-create": lambda world: {},
    "crm:contact-export": lambda world: {},
    "crm:contact-import": lambda world: {},
    "crm:contact-import-confirm": lambda world: {},
    "crm:contact": _contact,
    "crm:contact-edit": _contact,
    "crm:contact-status": _contact,
    "crm:contact-notes": _contact,
    "crm:contact-labels": _contact,
}
