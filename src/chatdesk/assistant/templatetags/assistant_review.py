from django import template

from chatdesk.notifications.nav import nav_badges

register = template.Library()


@register.simple_tag(takes_context=True)
def assistant_pending_reviews(context) -> int:
    """The review badge's count: drafts waiting in this workspace. Counted with the bell in one
    query per request (chatdesk.notifications.nav), however often the nav renders."""
    return nav_badges(context)["pending_reviews"]
