# The production image: one image for web, worker and beat (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=csplatform.settings \
    CSPLATFORM_VAR_DIR=/app/var \
    WEB_CONCURRENCY=3

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The project installs no
# packages of its own (pyproject: packages = []): the code runs from /app.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Static files are collected into the image and served by whitenoise (compressed, with
# hashed names). Settings need no secrets for this; DEBUG is off by default.
RUN python manage.py collectstatic --noinput -v 0 \
    && useradd --system --home-dir /app --no-create-home csplatform \
    && chown -R csplatform /app/var

USER csplatform
EXPOSE 8000

# web's command (gunicorn reads its worker count from WEB_CONCURRENCY); the worker and beat
# services of docker-compose.yml set their own.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn csplatform.wsgi --bind 0.0.0.0:8000 --access-logfile -"]
