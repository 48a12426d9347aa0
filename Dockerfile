# The one image behind the web, worker and beat services of docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir "uv==0.13.8" \
    && useradd --create-home --uid 1000 multical

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# Settings refuse to load in production without their secrets; these placeholders exist only
# for collecting static files at build time and are never used at run time.
RUN MULTICAL_ENV=production SECRET_KEY=build-only VAULT_SECRET=build-only ALLOWED_HOSTS=build \
    SITE_URL=https://build DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://build:6379/0 \
    EMAIL_HOST=build DEFAULT_FROM_EMAIL=build@build OPERATOR_NAME=build OPERATOR_CONTACT=build \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R multical /app/var
# The app's own bytecode, as uv compiled the dependencies': at run time nothing may write it, and
# every process would otherwise compile each module again as it imports it.
RUN python -m compileall -q /app

USER multical
EXPOSE 8000
CMD ["gunicorn", "multical.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
