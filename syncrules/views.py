from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.billing.plans import Limit, PlanLimitReached, would_exceed
from accounts.billing.prompts import limit_message
from accounts.http import AuthenticatedHttpRequest
from syncrules import forms, preview, selectors, services
from syncrules.models import SyncRule

# Sent by static/syncrules/preview.js: answer with the preview fragment instead of the whole page.
FRAGMENT_HEADER = "X-Preview-Fragment"


@login_required
@require_GET
def rule_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    calendars = selectors.calendars_for_user(request.user)
    rules = _with_activity(selectors.rules_for_user(request.user))
    return render(
        request,
        "syncrules/rule_list.html",
        {
            "rules": rules,
            "active": any(activity != selectors.Activity.IDLE for _, activity in rules),
            "calendar_count": calendars.count(),
            "writable_count": calendars.filter(read_only=False).count(),
        },
    )


@login_required
@require_GET
def rule_list_status(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The rule list's facts, for static/syncrules/live_status.js while syncs run."""
    rules = _with_activity(selectors.rules_for_user(request.user))
    return live_parts(
        request,
        active=any(activity != selectors.Activity.IDLE for _, activity in rules),
        parts={
            f"facts-{rule.id}": (
                "syncrules/includes/rule_facts.html",
                {"rule": rule, "activity": activity},
            )
            for rule, activity in rules
        },
    )


def _with_activity(rules: Iterable[SyncRule]) -> list[tuple[SyncRule, selectors.Activity]]:
    rules = list(rules)
    activity = selectors.rules_activity(rules)
    return [(rule, activity[str(rule.id)]) for rule in rules]


def live_parts(
    request: HttpRequest, *, active: bool, parts: dict[str, tuple[str, dict[str, object]]]
) -> JsonResponse:
    """Fragments of a page by element id, rendered by the templates the page includes."""
    response = JsonResponse(
        {
            "active": active,
            "parts": {
                element_id: render_to_string(template, context, request=request)
                for element_id, (template, context) in parts.items()
            },
        }
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def rule_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = forms.RuleForm(request.POST or None, user=request.user)
    # Said before the form is filled in; a posted rule over the limit is shown again, unsaved.
    refusal = would_exceed(user=request.user, limit=Limit.RULES)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.rule_create(
                user=request.user,
                settings=form.settings(),
                sources=form.cleaned_data["sources"],
                targets=form.cleaned_data["targets"],
            )
        except PlanLimitReached as error:
            refusal = error
        else:
            messages.success(
                request,
                _("Rule “%(name)s” is saved. Its first sync is queued.") % {"name": rule.name},
            )
            return redirect("syncrules:rule_list")
    return _rule_form_page(request, form, rule=None, refusal=refusal)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: AuthenticatedHttpRequest, rule_id: str) -> HttpResponse:
    rule = selectors.get_rule_for_user(request.user, rule_id)
    form = forms.RuleForm(request.POST or None, user=request.user, rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            services.rule_update(
                rule=rule,
                settings=form.settings(),
                sources=form.cleaned_data["sources"],
                targets=form.cleaned_data["targets"],
            )
        except PlanLimitReached as refusal:
            return _rule_form_page(request, form, rule=rule, refusal=refusal)
        messages.success(
            request,
            _("Rule “%(name)s” is saved. Its blocks are being updated.") % {"name": rule.name},
        )
        return redirect("syncrules:rule_list")
    return _rule_form_page(request, form, rule=rule)


@login_required
@require_POST
def rule_preview(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The next days under the rule in the posted form; its blocks as they would read, its skips."""
    rule = _rule_being_edited(request)
    form = forms.RuleForm(request.POST, user=request.user, rule=rule, for_preview=True)
    result = None
    if form.is_valid():
        result = preview.rule_preview(
            user=request.user,
            settings=form.settings(),
            sources=form.cleaned_data["sources"],
            targets=form.cleaned_data["targets"],
        )
    if request.headers.get(FRAGMENT_HEADER):
        return render(
            request,
            "syncrules/rule_preview.html",
            {"form": form, "preview": result, "preview_days": preview.PREVIEW_DAYS},
        )
    return _rule_form_page(request, form, rule=rule, result=result, previewed=True)


@login_required
def rule_detail(request: AuthenticatedHttpRequest, rule_id: str) -> HttpResponse:
    rule = selectors.get_rule_for_user(request.user, rule_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    context = _rule_status_context(rule)
    return render(
        request,
        "syncrules/rule_detail.html",
        {
            **context,
            "sources": rule.sources.select_related("connection"),
            "targets": rule.targets.select_related("connection"),
            "shared": selectors.rule_blocks(rule)[1],
        },
    )


@login_required
@require_GET
def rule_status(request: AuthenticatedHttpRequest, rule_id: str) -> JsonResponse:
    """The rule page's state and history, for static/syncrules/live_status.js while it syncs."""
    rule = selectors.get_rule_for_user(request.user, rule_id)
    context = _rule_status_context(rule)
    return live_parts(
        request,
        active=context["active"],
        parts={
            "rule-state": ("syncrules/includes/rule_state.html", context),
            "rule-history": ("syncrules/includes/rule_history.html", context),
        },
    )


def _rule_status_context(rule: SyncRule) -> dict[str, Any]:
    activity = selectors.rules_activity([rule])[str(rule.id)]
    return {
        "rule": rule,
        "activity": activity,
        "active": activity != selectors.Activity.IDLE,
        "blocks": selectors.rule_blocks(rule)[0],
        "targets_count": rule.targets.count(),
        "runs": selectors.rule_runs(rule),
        "history_length": selectors.HISTORY_LENGTH,
    }


@login_required
def rule_set_enabled(request: AuthenticatedHttpRequest, rule_id: str) -> HttpResponse:
    rule = selectors.get_rule_for_user(request.user, rule_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    enabled = request.POST.get("enabled") == "on"
    try:
        services.rule_set_enabled(rule=rule, enabled=enabled)
    except PlanLimitReached as refusal:
        messages.error(request, limit_message(refusal, _("or turn the rule that is on off first.")))
        return redirect("syncrules:rule_list")
    if enabled:
        messages.success(
            request, _("Rule “%(name)s” is on. Its blocks are being written.") % {"name": rule.name}
        )
    else:
        messages.success(
            request,
            _("Rule “%(name)s” is off. Its blocks are being removed.") % {"name": rule.name},
        )
    return redirect("syncrules:rule_list")


@login_required
@require_http_methods(["GET", "POST"])
def rule_delete(request: AuthenticatedHttpRequest, rule_id: str) -> HttpResponse:
    rule = selectors.get_rule_for_user(request.user, rule_id)
    if request.method == "POST":
        services.rule_delete(rule=rule)
        messages.success(
            request,
            _("Rule “%(name)s” is deleted. Its blocks are being removed.") % {"name": rule.name},
        )
        return redirect("syncrules:rule_list")
    return render(request, "syncrules/rule_confirm_delete.html", {"rule": rule})


@login_required
@require_http_methods(["GET", "POST"])
def block_each_other(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = forms.BlockEachOtherForm(request.POST or None, user=request.user)
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            rules = services.rules_block_each_other(
                user=request.user, calendars=form.cleaned_data["calendars"]
            )
        except PlanLimitReached as error:
            refusal = error
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)s rule is saved: your calendars now block each other.",
                    "%(count)s rules are saved: your calendars now block each other.",
                    len(rules),
                )
                % {"count": len(rules)},
            )
            return redirect("syncrules:rule_list")
    return render(
        request,
        "syncrules/block_each_other.html",
        {
            "form": form,
            "writable_count": selectors.writable_calendars_for_user(request.user).count(),
            "refusal": refusal,
        },
    )


def _rule_form_page(
    request: HttpRequest,
    form: forms.RuleForm,
    *,
    rule: SyncRule | None,
    result: preview.Preview | None = None,
    previewed: bool = False,
    refusal: PlanLimitReached | None = None,
) -> HttpResponse:
    return render(
        request,
        "syncrules/rule_form.html",
        {
            "form": form,
            "rule": rule,
            "preview": result,
            "previewed": previewed,
            "preview_days": preview.PREVIEW_DAYS,
            "refusal": refusal,
        },
    )


def _rule_being_edited(request: AuthenticatedHttpRequest) -> SyncRule | None:
    """The rule a preview is posted from (its edit page), so the page can be shown again."""
    rule_id = request.POST.get("rule", "")
    if not rule_id:
        return None
    try:
        uuid.UUID(rule_id)
    except ValueError:
        raise Http404("No such rule.") from None
    return selectors.get_rule_for_user(request.user, rule_id)
