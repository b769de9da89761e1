import re

from django import template

from chatdesk.inbox.forms import user_display_name

register = template.Library()

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_LABEL_COLOR = "#0f766e"


@register.filter
def label_color(value: str) -> str:
    """A label's colour for a style attribute: only #rrggbb, so nothing else reaches the CSS."""
    return value if isinstance(value, str) and _HEX_COLOR.fullmatch(value) else DEFAULT_LABEL_COLOR


@register.filter
def display_name(user) -> str:
    return user_display_name(user) if user is not None else ""
