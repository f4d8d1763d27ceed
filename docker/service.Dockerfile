# The hstvo service. It runs the README's commands against DATABASE_URL:
#   hstvo db upgrade; hstvo samples; hstvo serve
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/hstvo
COPY pyproject.toml README.md LICENSE ./
COPY hstvo hstvo
COPY loaders loaders
COPY pyserver pyserver
COPY migrations migrations
COPY sql sql
COPY data data
RUN pip install --no-cache-dir -e .
ENV HSTVO_HOST=0.0.0.0 HSTVO_PORT=8080
EXPOSE 8080
CMD ["sh", "-c", "hstvo db upgrade && hstvo samples && hstvo serve"]
