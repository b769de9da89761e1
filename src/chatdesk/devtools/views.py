"""Development-only pages. This app is not installed and not routed when APP_ENV=production."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def index(request):
    return render(request, "devtools/index.html")
