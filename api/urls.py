"""``/api/v1/``: the REST API, its OpenAPI schema and its documentation pages."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from . import views

app_name = "api"

router = SimpleRouter()
router.register("accounts", views.AccountViewSet, basename="account")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("products", views.ProductViewSet, basename="product")
router.register("subscription-lines", views.SubscriptionLineViewSet, basename="subscription-line")
router.register("activities", views.ActivityViewSet, basename="activity")
router.register("health-scores", views.HealthScoreViewSet, basename="health-score")
router.register("renewals", views.RenewalViewSet, basename="renewal")
router.register("tasks", views.TaskViewSet, basename="task")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"), name="redoc"),
    path("events/", views.EventsView.as_view(), name="events"),
    *router.urls,
]
