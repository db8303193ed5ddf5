/** The pipeline's HTTP endpoints: {@code /metrics}, {@code /health/live}, {@code /health/ready} and the status page. */
package io.embedseal.app.http;
