from django.urls import path

from api import settings_views

app_name = "api_keys"

urlpatterns = [
    path("", settings_views.key_list, name="list"),
    path("new/", settings_views.key_create, name="create"),
    path("<uuid:key_id>/revoke/", settings_views.key_revoke, name="revoke"),
]
