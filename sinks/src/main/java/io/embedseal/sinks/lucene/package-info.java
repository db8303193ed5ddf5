/** The Lucene sink: one HNSW index per tenant, and searching it. */
package io.embedseal.sinks.lucene;
