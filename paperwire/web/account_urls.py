"""The addresses of the account pages (/accounts/...)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from paperwire.web import accounts as views

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("verify", views.resend_verification, name="resend_verification"),
    path("verify/<str:token>", views.verify_email, name="verify_email"),
    path("password-reset", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("tokens", views.create_api_token, name="create_api_token"),
    path("tokens/<id:pk>/revoke", views.revoke_api_token, name="revoke_api_token"),
    path("password-reset/done", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
