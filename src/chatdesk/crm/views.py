"""Contact pages. Thin: forms validate, selectors read, services write; every lookup is scoped to
the workspace resolved by WorkspaceViewMixin, so another workspace's ids are a 404."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from chatdesk.crm.csv_io import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    CsvFileError,
    contacts_csv_lines,
    contacts_csv_parse,
)
from chatdesk.crm.forms import (
    ContactFilterForm,
    ContactForm,
    ContactImportConfirmForm,
    ContactImportForm,
    ContactLabelsForm,
    ContactNoteForm,
    LeadStatusForm,
    custom_field_formset,
)
from chatdesk.crm.selectors import (
    ImportAction,
    contact_conversations,
    contact_get,
    contact_has_conversations,
    contact_import_plan,
    contact_iter_filtered,
    contact_notes,
    contact_page,
    contact_status_history,
    label_list,
    member_user_list,
)
from chatdesk.crm.services import (
    ContactError,
    ImportRejectedError,
    PhoneTakenError,
    contact_create,
    contact_import_apply,
    contact_labels_set,
    contact_note_create,
    contact_status_change,
    contact_update,
)
from chatdesk.tenancy.mixins import WorkspaceViewMixin
from chatdesk.tenancy.models import Role

IMPORT_PREVIEW_SECONDS = 30 * 60
PREVIEW_ROWS_SHOWN = 100


class ContactListView(WorkspaceViewMixin, TemplateView):
    template_name = "crm/contacts.html"

    def get(self, request, *args, **kwargs):
        form = ContactFilterForm(
            request.GET,
            labels=label_list(workspace=self.workspace),
            members=member_user_list(workspace=self.workspace),
        )
        # Import and export are admin-only; agents do not get the buttons.
        can_transfer = self.membership.has_role(Role.ADMIN)
        context = self.get_context_data(form=form, can_transfer=can_transfer)
        if not form.is_valid():
            # Show the errors and no rows: a list that silently ignored a filter would look
            # filtered when it is not.
            return self.render_to_response({**context, "contacts": []}, status=400)
        page = contact_page(
            workspace=self.workspace, filters=form.filters(), after=form.cleaned_data["after"]
        )
        query = request.GET.copy()
        query.pop("after", None)
        context["filter_query"] = query.urlencode()  # the export and "first page" links
        if page.next_cursor is not None:
            query["after"] = page.next_cursor.encode()
            context["next_url"] = f"?{query.urlencode()}"
        context.update(
            contacts=page.contacts,
            is_filtered=form.is_filtered(),
            is_later_page=form.cleaned_data["after"] is not None,
        )
        if request.htmx and form.cleaned_data["after"] is not None:
            # "Load more": only the next rows and the next button, appended by htmx.
            return TemplateResponse(request, "crm/contacts.html#rows", context)
        return self.render_to_response(context)


class ContactExportView(WorkspaceViewMixin, View):
    """The filtered list as CSV: every matching contact, not only one page. Admins only: an
    export moves the whole contact list out of the application at once."""

    required_role = Role.ADMIN
    http_method_names = ["get"]

    def get(self, request, *args, **kwargs):
        form = ContactFilterForm(
            request.GET,
            labels=label_list(workspace=self.workspace),
            members=member_user_list(workspace=self.workspace),
        )
        if not form.is_valid():
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            return HttpResponse(
                f"Invalid filters: {problems}", status=400, content_type="text/plain"
            )
        contacts = contact_iter_filtered(workspace=self.workspace, filters=form.filters())
        response = StreamingHttpResponse(
            contacts_csv_lines(contacts), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = (
            f'attachment; filename="contacts-{self.workspace.slug}-{stamp}.csv"'
        )
        return response


class ContactObjectMixin(WorkspaceViewMixin):
    """Loads the contact of the URL inside this workspace: other ids are a 404."""

    def get_contact(self):
        if not hasattr(self, "contact"):
            contact = contact_get(workspace=self.workspace, contact_id=self.kwargs["contact_id"])
            if contact is None:
                raise Http404("No such contact")
            self.contact = contact
        return self.contact


def _int_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


class ContactDetailView(ContactObjectMixin, TemplateView):
    template_name = "crm/contact_detail.html"

    def get(self, request, *args, **kwargs):
        return self.render_detail()

    def render_detail(self, status: int = 200, **forms):
        contact = self.get_contact()
        workspace = self.workspace
        notes, older_notes = contact_notes(
            contact=contact, before_id=_int_param(self.request, "notes_before")
        )
        history, older_history = contact_status_history(
            contact=contact, before_id=_int_param(self.request, "history_before")
        )
        conversations = contact_conversations(contact=contact)
        labels = label_list(workspace=workspace)
        context = self.get_context_data(
            contact=contact,
            notes=notes,
            older_notes=older_notes,
            history=history,
            older_history=older_history,
            conversations=conversations,
            status_form=forms.get("status_form")
            or LeadStatusForm(initial={"lead_status": contact.lead_status}),
            note_form=forms.get("note_form") or ContactNoteForm(),
            labels_form=forms.get("labels_form")
            or ContactLabelsForm(
                labels=labels,
                initial={"labels": [str(label.pk) for label in contact.labels.all()]},
            ),
            custom_fields=sorted(contact.custom_fields.items()),
        )
        return self.render_to_response(context, status=status)

    def back(self, anchor: str):
        url = reverse("crm:contact", args=[self.workspace.slug, self.get_contact().pk])
        return redirect(f"{url}#{anchor}")


class ContactStatusView(ContactDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        contact = self.get_contact()
        form = LeadStatusForm(request.POST)
        if not form.is_valid():
            return self.render_detail(status=400, status_form=form)
        change = contact_status_change(
            contact=contact, to_status=form.cleaned_data["lead_status"], actor=request.user
        )
        if change is not None:
            messages.success(request, f"Lead status is now {contact.get_lead_status_display()}.")
        return self.back("status")


class ContactNoteCreateView(ContactDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = ContactNoteForm(request.POST)
        if not form.is_valid():
            return self.render_detail(status=400, note_form=form)
        contact_note_create(
            contact=self.get_contact(), author=request.user, text=form.cleaned_data["text"]
        )
        return self.back("notes")


class ContactLabelsView(ContactDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = ContactLabelsForm(request.POST, labels=label_list(workspace=self.workspace))
        if not form.is_valid():
            return self.render_detail(status=400, labels_form=form)
        contact_labels_set(
            contact=self.get_contact(),
            labels=form.cleaned_data["labels"],
            new_names=form.cleaned_data["new_labels"],
        )
        messages.success(request, "Labels saved.")
        return self.back("labels")


class ContactFormView(WorkspaceViewMixin, TemplateView):
    """Create (no contact_id) or edit a contact's profile and custom fields."""

    template_name = "crm/contact_form.html"

    def setup_forms(self, data=None):
        contact = getattr(self, "contact", None)
        members = member_user_list(workspace=self.workspace)
        if contact is None:
            form = ContactForm(data, members=members, creating=True)
            formset = custom_field_formset(data)
        else:
            initial = {
                "name": contact.name,
                "phone": contact.phone,
                "email": contact.email,
                "owner": str(contact.owner_id or ""),
            }
            form = ContactForm(
                data,
                members=members,
                creating=False,
                phone_locked=contact_has_conversations(contact=contact),
                initial=initial,
            )
            formset = custom_field_formset(data, initial=contact.custom_fields)
        return form, formset

    def get(self, request, *args, **kwargs):
        form, formset = self.setup_forms()
        return self.render_to_response(self.get_context_data(form=form, formset=formset))

    def post(self, request, *args, **kwargs):
        form, formset = self.setup_forms(request.POST)
        if form.is_valid() and formset.is_valid():
            try:
                contact = self.save(form.cleaned_data, formset.custom_fields)
            except PhoneTakenError as error:
                form.add_error("phone", str(error))
            except ContactError as error:
                form.add_error(None, str(error))
            else:
                return redirect("crm:contact", self.workspace.slug, contact.pk)
        context = self.get_context_data(form=form, formset=formset)
        return self.render_to_response(context, status=400)

    def save(self, data, custom_fields):
        return contact_create(
            workspace=self.workspace,
            actor=self.request.user,
            name=data["name"],
            phone=data["phone"],
            email=data["email"],
            lead_status=data["lead_status"],
            owner=data["owner"],
            custom_fields=custom_fields,
        )


class ContactEditView(ContactObjectMixin, ContactFormView):
    def setup_forms(self, data=None):
        self.get_contact()
        return super().setup_forms(data)

    def get_context_data(self, **kwargs):
        return super().get_context_data(contact=self.get_contact(), **kwargs)

    def save(self, data, custom_fields):
        return contact_update(
            contact=self.get_contact(),
            name=data["name"],
            phone=data["phone"],
            email=data["email"],
            owner=data["owner"],
            custom_fields=custom_fields,
        )


def _preview_key(view, token: str) -> str:
    # Bound to the workspace and the user: a token is useless to anyone else.
    return f"crm:import:{view.workspace.pk}:{view.request.user.pk}:{token}"


class ContactImportView(WorkspaceViewMixin, TemplateView):
    """Step 1: upload; step 2 (the POST's answer): preview with every row's errors."""

    required_role = Role.ADMIN
    template_name = "crm/contact_import.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            max_mb=MAX_IMPORT_BYTES // (1024 * 1024), max_rows=MAX_IMPORT_ROWS, **kwargs
        )

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=ContactImportForm()))

    def post(self, request, *args, **kwargs):
        form = ContactImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        text, region = form.cleaned_data["file"], form.cleaned_data["region"]
        try:
            rows = contacts_csv_parse(text, region=region)
        except CsvFileError as error:
            form.add_error("file", str(error))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        plan = contact_import_plan(workspace=self.workspace, rows=rows)
        token = None
        if plan.is_valid:
            token = secrets.token_urlsafe(24)
            cache.set(
                _preview_key(self, token), {"text": text, "region": region}, IMPORT_PREVIEW_SECONDS
            )
        return self.render_preview(plan, token=token, region=region)

    def render_preview(self, plan, *, token, region, status=200, error=""):
        shown = plan.error_rows if not plan.is_valid else plan.rows[:PREVIEW_ROWS_SHOWN]
        context = self.get_context_data(
            plan=plan,
            shown_rows=shown,
            hidden_rows=len(plan.rows) - len(shown) if plan.is_valid else 0,
            counts={
                "create": plan.count(ImportAction.CREATE),
                "update": plan.count(ImportAction.UPDATE),
                "unchanged": plan.count(ImportAction.UNCHANGED),
                "error": len(plan.error_rows),
            },
            confirm_form=ContactImportConfirmForm(initial={"token": token, "region": region})
            if token
            else None,
            import_error=error,
            form=ContactImportForm(initial={"region": region}),
        )
        return self.render_to_response(context, status=status if plan.is_valid else 400)


class ContactImportConfirmView(ContactImportView):
    """Step 3: import everything from the previewed file in one transaction, or nothing."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = ContactImportConfirmForm(request.POST)
        key = _preview_key(self, form.cleaned_data["token"]) if form.is_valid() else None
        stored = cache.get(key) if key else None
        if stored is None:
            messages.error(request, "That preview has expired. Upload the file again.")
            return redirect("crm:contact-import", self.workspace.slug)
        rows = contacts_csv_parse(stored["text"], region=stored["region"])
        try:
            result = contact_import_apply(workspace=self.workspace, actor=request.user, rows=rows)
        except ImportRejectedError as rejected:
            if rejected.plan is None:
                messages.error(request, str(rejected))
                return redirect("crm:contact-import", self.workspace.slug)
            # Something changed since the preview (a member left, ...): show why, import nothing.
            return self.render_preview(
                rejected.plan, token=None, region=stored["region"], error=str(rejected)
            )
        cache.delete(key)
        messages.success(
            request,
            f"Import finished: {result.created} new, {result.updated} updated, "
            f"{result.unchanged} unchanged"
            + (f", {result.labels_created} new labels." if result.labels_created else "."),
        )
        return redirect("crm:contacts", self.workspace.slug)
