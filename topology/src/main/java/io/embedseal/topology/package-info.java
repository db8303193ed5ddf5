/**
 * The Kafka Streams application: the static topology builder (raw -> validate -> seal -> sealed, or the
 * dead-letter topic), its validation rules and dead-letter records, and the Streams settings it runs with.
 */
package io.embedseal.topology;
