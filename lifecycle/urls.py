from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("export/", views.data_export, name="export"),
    path("delete/", views.delete_account, name="delete"),
]
