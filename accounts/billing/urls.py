from django.urls import path

from accounts.billing import views

app_name = "billing"

urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/done/", views.checkout_done, name="done"),
    path("checkout/cancelled/", views.checkout_cancelled, name="cancelled"),
    path("portal/", views.portal, name="portal"),
    path("resume/", views.resume, name="resume"),
]
