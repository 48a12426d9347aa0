from django.urls import path

from syncrules import views

app_name = "syncrules"

urlpatterns = [
    path("", views.rule_list, name="rule_list"),
]
