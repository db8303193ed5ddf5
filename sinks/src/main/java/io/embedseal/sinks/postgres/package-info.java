/** The PostgreSQL sink: sealed envelopes in {@code bytea} (and pgvector vectors in index mode), and exact search over them. */
package io.embedseal.sinks.postgres;
