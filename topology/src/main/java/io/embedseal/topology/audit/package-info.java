/** The append-only, hash-chained audit trail on {@code keyring.audit}: writing it and verifying it. */
package io.embedseal.topology.audit;
