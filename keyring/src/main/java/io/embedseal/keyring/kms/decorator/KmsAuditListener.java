package io.embedseal.keyring.kms.decorator;

/**
 * Receives one {@link KmsAuditEvent} per KMS operation. If it throws, the operation fails too: an audit
 * trail that can silently miss events is not one. Must be thread-safe.
 */
@FunctionalInterface
public interface KmsAuditListener {
    void onEvent(KmsAuditEvent event);
}
