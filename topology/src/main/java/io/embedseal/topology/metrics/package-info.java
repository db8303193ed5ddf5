/** The pipeline's Micrometer/Prometheus metrics, with tenant labels bounded so many tenants cannot flood a Prometheus server. */
package io.embedseal.topology.metrics;
