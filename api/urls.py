from django.urls import path, re_path

from api import views
from api.main import api

urlpatterns = [
    path("v1/", api.urls),
    # Any other address under the API answers as the API does: a problem, not an HTML page.
    re_path(r"^v1/", views.unknown, name="api_unknown"),
    path("docs/", views.reference, name="api_docs"),
]
