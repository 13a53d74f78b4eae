-- One PostgreSQL server, one database per service: each service owns its data and its schema
-- (the tables come from the service's own migrations, applied by `serve` or `migrate`).
-- The postgres image runs this once, as POSTGRES_USER, when its data volume is still empty;
-- that user owns the three databases.
CREATE DATABASE registry;
CREATE DATABASE events;
CREATE DATABASE analytics;
