package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * One KMS operation, as the audit trail records it. Never holds key material.
 *
 * @param time       when the operation finished
 * @param tenantId   the tenant whose key it was, or null when the key name maps to no tenant
 * @param provider   the KMS provider
 * @param operation  what was done
 * @param keyName    the key's name
 * @param kekVersion the version involved (named by the caller or returned by the KMS), or null
 * @param outcome    how it ended
 * @param latencyMicros how long it took, retries included
 * @param detail     the failure's message when it failed (names keys, never secrets), else null
 */
public record KmsAuditEvent(
        Instant time,
        @Nullable String tenantId,
        String provider,
        KmsOperation operation,
        String keyName,
        @Nullable Integer kekVersion,
        KmsOutcome outcome,
        long latencyMicros,
        @Nullable String detail) {}
