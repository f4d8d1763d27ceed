# PostgreSQL 15 with pgsphere, from Debian's packages (the same ones `make deps` installs).
FROM postgres:15-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15-pgsphere \
 && rm -rf /var/lib/apt/lists/*
