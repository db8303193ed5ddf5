/** The pipeline's audit trail on {@code keyring.audit}: KMS calls and key events, chained by {@link io.embedseal.control.audit.AuditChain}. */
package io.embedseal.topology.audit;
