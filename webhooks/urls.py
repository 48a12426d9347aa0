from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.subscription_list, name="subscription_list"),
    path("new/", views.subscription_create, name="subscription_create"),
    path("<uuid:subscription_id>/", views.subscription_detail, name="subscription_detail"),
    path("<uuid:subscription_id>/log/", views.delivery_log, name="delivery_log"),
    path("<uuid:subscription_id>/pause/", views.subscription_pause, name="subscription_pause"),
    path("<uuid:subscription_id>/resume/", views.subscription_resume, name="subscription_resume"),
    path("<uuid:subscription_id>/test/", views.subscription_test, name="subscription_test"),
    path("<uuid:subscription_id>/rotate/", views.subscription_rotate, name="subscription_rotate"),
    path("<uuid:subscription_id>/delete/", views.subscription_delete, name="subscription_delete"),
]
