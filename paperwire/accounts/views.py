from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator

from paperwire.accounts.forms import SignupForm
from paperwire.digests.emails import subscriber_links
from paperwire.digests.models import Subscriber
from paperwire.papers.views import safe_next
from paperwire.ratelimit import limit_writes, posted


@limit_writes("signup")
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}!")
        return redirect(safe_next(request, "/"))
    return render(request, "registration/signup.html", {"form": form, "next": request.GET.get("next", "")})


class LoginView(auth_views.LoginView):
    """Limited per client address and per account by the LoginAttemptLimit backend, like the admin's."""

    redirect_authenticated_user = True


@method_decorator(
    limit_writes("password_reset", per={"password_reset_address": posted("email")}, what="password resets"),
    name="dispatch",
)
class PasswordResetView(auth_views.PasswordResetView):
    @property
    def extra_email_context(self):
        # Links are built from PAPERWIRE_BASE_URL, never from the request's Host header.
        return {"base_url": settings.BASE_URL}


@login_required
def account_settings(request):
    """The account's page: its digest subscription, if its email address has one."""
    subscriber = Subscriber.objects.filter(email=request.user.email.lower()).first() if request.user.email else None
    manage_url = subscriber_links(subscriber)["manage_url"] if subscriber else ""
    return render(request, "registration/settings.html", {"subscriber": subscriber, "manage_url": manage_url})
