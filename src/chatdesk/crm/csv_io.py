"""Contacts as CSV: the export writer and the import parser.

Export: one row per contact, every cell that a spreadsheet would run as a formula (it starts with
= + - @, a tab or a carriage return) is prefixed with a single quote (OWASP "CSV injection").
E.164 phones start with "+", so they are exported as `'+62...`; the importer removes exactly that
quote again, so an exported file imports back unchanged.

Import: `contacts_csv_parse()` checks what can be checked without the database (columns, names,
phones normalised to E.164, statuses, sources, e-mails, custom fields, duplicate phones inside the
file) and returns every problem of every row at once. What needs the database (existing contacts,
owners, labels) is `crm.selectors.contact_import_plan()`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from chatdesk.crm.models import Contact, LeadSource, LeadStatus
from chatdesk.crm.phones import DEFAULT_REGION, InvalidPhoneError, phone_to_e164

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_KEY = 50
MAX_CUSTOM_VALUE = 500
MAX_LABEL_NAME = 50
LABEL_SEPARATOR = ";"
CUSTOM_PREFIX = "custom."

EXPORT_COLUMNS = [
    "name",
    "phone",
    "email",
    "lead_status",
    "source",
    "owner_email",
    "labels",
    "custom_fields",
    "created_at",
]
REQUIRED_COLUMNS = {"name", "phone"}
# created_at is accepted so that an export imports back; it is informational and ignored.
KNOWN_COLUMNS = set(EXPORT_COLUMNS)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_unescape(text: str) -> str:
    """Undo csv_safe(): a quote followed by a formula character is ours."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


class _Echo:
    """csv.writer needs a file; this one hands each formatted line back to the caller."""

    def write(self, value: str) -> str:
        return value


def contact_csv_row(contact: Contact) -> list[str]:
    return [
        contact.name,
        contact.phone,
        contact.email,
        contact.lead_status,
        contact.source,
        contact.owner.email if contact.owner_id else "",
        f"{LABEL_SEPARATOR} ".join(label.name for label in contact.labels.all()),
        json.dumps(contact.custom_fields, ensure_ascii=False, sort_keys=True)
        if contact.custom_fields
        else "",
        contact.created_at.isoformat(timespec="seconds"),
    ]


def contacts_csv_lines(contacts: Iterable[Contact]) -> Iterator[str]:
    """The export, line by line (for a StreamingHttpResponse). Starts with a UTF-8 BOM so that
    spreadsheet programs read names in any script correctly."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)
    for contact in contacts:
        yield writer.writerow([csv_safe(cell) for cell in contact_csv_row(contact)])


# --- import ---------------------------------------------------------------------------------


class CsvFileError(ValueError):
    """The file as a whole cannot be imported (encoding, columns, size)."""


@dataclass
class ImportRow:
    line: int
    name: str = ""
    phone: str = ""  # E.164 when valid
    email: str = ""
    lead_status: str = ""  # "" = not given: new contacts start as "new", others keep theirs
    source: str = ""
    owner_email: str = ""
    labels: list[str] = field(default_factory=list)
    custom_fields: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _choice(value: str, choices: type[LeadStatus] | type[LeadSource], what: str) -> str:
    wanted = value.strip().lower()
    for choice in choices:
        if wanted in (choice.value, str(choice.label).lower()):
            return choice.value
    allowed = ", ".join(c.value for c in choices)
    raise ValueError(f"Unknown {what} “{value.strip()}” (use one of: {allowed}).")


def custom_fields_clean(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Validated custom fields (key → text), shared by the import and the contact form."""
    result: dict[str, str] = {}
    for raw_key, raw_value in pairs:
        key, value = str(raw_key).strip(), str(raw_value).strip()
        if not key:
            raise ValueError("A custom field needs a name.")
        if len(key) > MAX_CUSTOM_KEY:
            raise ValueError(f"Custom field name “{key[:20]}…” is longer than {MAX_CUSTOM_KEY}.")
        if len(value) > MAX_CUSTOM_VALUE:
            raise ValueError(f"Custom field “{key}” is longer than {MAX_CUSTOM_VALUE} characters.")
        if key in result:
            raise ValueError(f"Custom field “{key}” appears twice.")
        result[key] = value
    if len(result) > MAX_CUSTOM_FIELDS:
        raise ValueError(f"At most {MAX_CUSTOM_FIELDS} custom fields per contact.")
    return result


def _custom_fields_from_json(text: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("custom_fields is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValueError('custom_fields must be a JSON object, like {"course": "MBA"}.')
    pairs = []
    for key, value in data.items():
        if isinstance(value, dict | list):
            raise ValueError(f"Custom field “{key}” must be text, not a list or object.")
        pairs.append((key, "" if value is None else value))
    return pairs


def _header(fieldnames: list[str] | None) -> dict[str, str]:
    """Map each column as written to what it means ("name", "custom.<key>", ...)."""
    if not fieldnames:
        raise CsvFileError("The file is empty.")
    mapping: dict[str, str] = {}
    unknown = []
    for raw in fieldnames:
        name = (raw or "").strip()
        if not name:
            continue  # spreadsheets often save trailing empty columns
        lowered = name.lower()
        if lowered.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
            meaning = CUSTOM_PREFIX + name[len(CUSTOM_PREFIX) :].strip()
        elif lowered in KNOWN_COLUMNS:
            meaning = lowered
        else:
            unknown.append(name)
            continue
        if meaning in mapping.values():
            raise CsvFileError(f"The column “{name}” appears twice.")
        mapping[raw] = meaning
    if unknown:
        raise CsvFileError(
            f"Unknown column(s): {', '.join(unknown)}. Known columns: "
            f"{', '.join(EXPORT_COLUMNS)}; custom fields as custom.<name>."
        )
    missing = REQUIRED_COLUMNS - set(mapping.values())
    if missing:
        raise CsvFileError(f"Required column(s) missing: {', '.join(sorted(missing))}.")
    return mapping


def csv_decode(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise CsvFileError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvFileError("The file is not UTF-8 text. Save it as “CSV UTF-8”.") from None


def contacts_csv_parse(text: str, *, region: str = DEFAULT_REGION) -> list[ImportRow]:
    """Every data row of the file, each with its own list of errors (empty when valid)."""
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    try:
        mapping = _header(reader.fieldnames)
    except csv.Error as error:
        raise CsvFileError(f"The file is not readable as CSV: {error}.") from None
    rows: list[ImportRow] = []
    first_line_of_phone: dict[str, int] = {}
    try:
        for record in reader:
            extra = record.pop("\x00extra", None)
            cells = {
                mapping[column]: csv_unescape((value or "").strip())
                for column, value in record.items()
                if column in mapping
            }
            if not any(cells.values()) and not extra:
                continue  # blank lines at the end of spreadsheets
            if len(rows) >= MAX_IMPORT_ROWS:
                raise CsvFileError(
                    f"The file has more than {MAX_IMPORT_ROWS} rows; split it into smaller files."
                )
            row = _row_parse(reader.line_num, cells, region)
            if extra:
                row.errors.append("This row has more cells than the header has columns.")
            if row.phone:
                earlier = first_line_of_phone.setdefault(row.phone, row.line)
                if earlier != row.line:
                    row.errors.append(f"Same phone number as line {earlier}.")
            rows.append(row)
    except csv.Error as error:
        raise CsvFileError(f"Line {reader.line_num} is not valid CSV: {error}.") from None
    if not rows:
        raise CsvFileError("The file has a header but no contacts.")
    return rows


def _row_parse(line: int, cells: dict[str, str], region: str) -> ImportRow:
    row = ImportRow(line=line)
    row.name = cells.get("name", "")
    if not row.name:
        row.errors.append("Name is missing.")
    elif len(row.name) > 200:
        row.errors.append("Name is longer than 200 characters.")
    try:
        row.phone = phone_to_e164(cells.get("phone", ""), region=region)
    except InvalidPhoneError as error:
        row.errors.append(str(error))
    row.email = cells.get("email", "").lower()
    if row.email:
        try:
            validate_email(row.email)
        except ValidationError:
            row.errors.append(f"“{row.email}” is not a valid e-mail address.")
    for column, choices, what in (
        ("lead_status", LeadStatus, "lead status"),
        ("source", LeadSource, "source"),
    ):
        if cells.get(column):
            try:
                setattr(row, column, _choice(cells[column], choices, what))
            except ValueError as error:
                row.errors.append(str(error))
    row.owner_email = cells.get("owner_email", "").lower()
    labels = [name.strip() for name in cells.get("labels", "").split(LABEL_SEPARATOR)]
    row.labels = list(dict.fromkeys(name for name in labels if name))
    for name in row.labels:
        if len(name) > MAX_LABEL_NAME:
            row.errors.append(f"Label “{name[:20]}…” is longer than {MAX_LABEL_NAME}.")
    try:
        pairs = (
            _custom_fields_from_json(cells["custom_fields"]) if cells.get("custom_fields") else []
        )
        pairs += [
            (key[len(CUSTOM_PREFIX) :], value)
            for key, value in cells.items()
            if key.startswith(CUSTOM_PREFIX) and value
        ]
        # A custom.<key> column overrides the same key in the JSON column.
        merged = dict(pairs)
        row.custom_fields = custom_fields_clean(merged.items())
    except ValueError as error:
        row.errors.append(str(error))
    return row
