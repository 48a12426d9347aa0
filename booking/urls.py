from django.urls import path

from booking import views

app_name = "booking"

urlpatterns = [
    path("", views.page_list, name="page_list"),
]
