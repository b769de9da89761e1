from django import template

from chatdesk.notifications.nav import nav_badges

register = template.Library()


@register.simple_tag(takes_context=True)
def notifications_unread(context) -> int:
    """The bell's count (shares its one query per request with the review badge)."""
    return nav_badges(context)["unread_notifications"]
