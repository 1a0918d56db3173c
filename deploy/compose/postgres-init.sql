-- Dagster keeps its own database beside the app's (POSTGRES_DB=videoai), same server and role.
CREATE DATABASE dagster;
