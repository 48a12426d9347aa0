from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Django's form templates, with our own layout for each field."""

    field_template_name = "forms/field.html"
