from django import forms

from chatdesk.reports.selectors import DEFAULT_RANGE, RANGES


class RangeForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=[(str(n), f"{n} days") for n in RANGES],
        coerce=int,
        required=False,
        empty_value=DEFAULT_RANGE,
        error_messages={
            "invalid_choice": "Choose a range of " + ", ".join(map(str, RANGES)) + " days."
        },
    )
