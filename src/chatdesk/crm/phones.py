"""Phone numbers in one shape: E.164 (`+6281234567890`), validated with `phonenumbers`.

WhatsApp identifies a customer by the digits of that number (`wa_id`), so a contact typed in by
an agent or imported from a spreadsheet meets the same contact when the customer writes in.
"""

from __future__ import annotations

import phonenumbers

# Most of our first customers are in Indonesia; every form that reads numbers lets the user
# choose another default region for numbers written without a country code.
DEFAULT_REGION = "ID"

REGION_CHOICES = sorted(
    (
        (region, f"{region} (+{phonenumbers.country_code_for_region(region)})")
        for region in phonenumbers.SUPPORTED_REGIONS
    ),
    key=lambda choice: choice[0],
)


class InvalidPhoneError(ValueError):
    pass


def phone_to_e164(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """The number in E.164, or InvalidPhoneError with a message a user can act on."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneError("The phone number is missing.")
    if len(text) > 40:
        raise InvalidPhoneError("The phone number is too long.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneError(f"“{text}” is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(
            f"“{text}” is not a valid phone number (numbers without a country code are read "
            f"as {region} numbers)."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wa_id_for(e164: str) -> str:
    """WhatsApp's id of a number: its digits, without the plus."""
    return e164.lstrip("+")
