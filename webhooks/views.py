"""The webhook pages in Settings: each view checks access first (the owner's, else 404), then
calls one service. A signing secret is shown only in the answer to the POST that made it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from multical.lib import rate_limits
from multical.lib.requests import client_ip
from webhooks import selectors, services
from webhooks.forms import SubscriptionForm
from webhooks.models import WebhookSubscription

DELIVERIES_PER_PAGE = 50
# Test events per account: enough to debug a receiver, too few to make us anyone's load generator.
TEST_EVENT_RATE = "30/15m"


@login_required
def subscription_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    subscriptions = selectors.subscriptions_for_user(request.user)
    return render(request, "webhooks/subscription_list.html", {"subscriptions": subscriptions})


@login_required
@require_http_methods(["GET", "POST"])
def subscription_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription, secret = services.subscription_create(
                user=request.user,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                ip_address=client_ip(request),
            )
        except services.InvalidWebhookURL as error:
            form.add_error("url", error.translated())
        except services.WebhookRefused as error:
            form.add_error(None, error.translated())
        else:
            return _secret_page(request, subscription, secret, created=True)
    return render(request, "webhooks/subscription_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def subscription_detail(request: AuthenticatedHttpRequest, subscription_id: str) -> HttpResponse:
    subscription = selectors.get_subscription_for_user(request.user, subscription_id)
    form = SubscriptionForm(
        request.POST or None, initial={"url": subscription.url, "events": subscription.events}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.subscription_update(
                subscription=subscription,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except services.InvalidWebhookURL as error:
            form.add_error("url", error.translated())
        else:
            messages.success(request, _("Webhook saved."))
            return redirect("webhooks:subscription_detail", subscription_id=subscription.id)
    recent = selectors.deliveries_for(subscription)[:5]
    return render(
        request,
        "webhooks/subscription_detail.html",
        {"subscription": subscription, "form": form, "recent": recent},
    )


@login_required
def delivery_log(request: AuthenticatedHttpRequest, subscription_id: str) -> HttpResponse:
    subscription = selectors.get_subscription_for_user(request.user, subscription_id)
    pages = Paginator(selectors.deliveries_for(subscription), DELIVERIES_PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    return render(
        request, "webhooks/delivery_log.html", {"subscription": subscription, "page": page}
    )


@login_required
@require_POST
def subscription_pause(request: AuthenticatedHttpRequest, subscription_id: str) -> HttpResponse:
    subscription = selectors.get_subscription_for_user(request.user, subscription_id)
    services.subscription_pause(subscription=subscription)
    messages.success(request, _("Webhook paused: nothing is sent until you resume it."))
    return redirect("webhooks:subscription_detail", subscription_id=subscription.id)


@login_required
@require_POST
def subscription_resume(request: AuthenticatedHttpRequest, subscription_id: str) -> HttpResponse:
    subscription = selectors.get_subscription_for_user(request.user, subscription_id)
    services.subscription_resume(subscription=subscription)
    messages.success(request, _("Webhook resumed."))
    return redirect("webhooks:subscription_detail", subscription_id=subscription.id)


@login_required
@require_POST
@rate_limits.ratelimit(group="webhook-test", rate=TEST_EVENT_RATE)
def subscription_test(request: AuthenticatedHttpRequest, subscription_id: str) -> HttpResponse:
    subscription = selectors.get_subscription_for_user(request.user, subscription_id)
    services.subscription_send_test(subscription=subscription)
    messages.success(
        request, _("A test event is on its way. Its outcome appears in the delivery log.")
    )
    return redirect("webhooks:delivery_log", subscription_id=subscription.id)


@login_required
@require_http_methods(["GET", "POST"])
def subscription_rotate(request: AuthenticatedHttpRequest, subscription_id: str) -> HttpResponse:
    subscription = selectors.get_subscription_for_user(request.user, subscription_id)
    if request.method == "POST":
        secret = services.subscription_rotate_secret(
            subscription=subscription, ip_address=client_ip(request)
        )
        return _secret_page(request, subscription, secret, created=False)
    return render(request, "webhooks/subscription_rotate.html", {"subscription": subscription})


@login_required
@require_http_methods(["GET", "POST"])
def subscription_delete(request: AuthenticatedHttpRequest, subscription_id: str) -> HttpResponse:
    subscription = selectors.get_subscription_for_user(request.user, subscription_id)
    if request.method == "POST":
        services.subscription_delete(subscription=subscription, ip_address=client_ip(request))
        messages.success(request, _("Webhook deleted."))
        return redirect("webhooks:subscription_list")
    return render(request, "webhooks/subscription_delete.html", {"subscription": subscription})


def _secret_page(
    request: AuthenticatedHttpRequest,
    subscription: WebhookSubscription,
    secret: str,
    *,
    created: bool,
) -> HttpResponse:
    # Shown in the answer to the POST that made it and kept nowhere: never cached.
    response = render(
        request,
        "webhooks/subscription_secret.html",
        {
            "subscription": subscription,
            "secret": secret,
            "created": created,
            "overlap_hours": int(services.SECRET_OVERLAP.total_seconds() // 3600),
        },
    )
    add_never_cache_headers(response)
    return response
