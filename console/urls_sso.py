from django.urls import URLPattern, path

from console import sso_views

urlpatterns: list[URLPattern] = [
    path("sso/", sso_views.sso_sign_in, name="sso_sign_in"),
    path("sso/callback/", sso_views.sso_callback, name="sso_callback"),
    path("sso/sign-up/", sso_views.sso_sign_up, name="sso_sign_up"),
    path("sso/mine/", sso_views.sso_identities_mine, name="sso_identities_mine"),
    path(
        "sso/mine/<uuid:identity_id>/remove/",
        sso_views.sso_identity_remove,
        name="sso_identity_remove",
    ),
    path("<uuid:organization_id>/sso/", sso_views.sso_settings, name="sso_settings"),
    path(
        "<uuid:organization_id>/sso/identities/<uuid:identity_id>/unlink/",
        sso_views.sso_identity_unlink,
        name="sso_identity_unlink",
    ),
]
