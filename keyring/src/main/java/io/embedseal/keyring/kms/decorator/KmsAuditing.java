package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import io.embedseal.keyring.kms.WrappedDek;
import java.time.Clock;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Sends one {@link KmsAuditEvent} per operation to a listener, after the operation ended (successfully or
 * not). Placed outside {@link KmsRetry}, it records each operation once, with the final outcome.
 */
public final class KmsAuditing implements KmsInterceptor {

    private final Function<String, @Nullable String> tenantOfKeyName;
    private final KmsAuditListener listener;
    private final Clock clock;

    /**
     * @param tenantOfKeyName maps a key name back to its tenant, or to null
     */
    public KmsAuditing(Function<String, @Nullable String> tenantOfKeyName, KmsAuditListener listener, Clock clock) {
        this.tenantOfKeyName = Objects.requireNonNull(tenantOfKeyName, "tenantOfKeyName");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public <T> T around(
            String provider, KmsOperation operation, String keyName, @Nullable Integer version, Supplier<T> call) {
        long start = System.nanoTime();
        T result;
        try {
            result = call.get();
        } catch (RuntimeException e) {
            emit(provider, operation, keyName, version, KmsOutcome.of(e), start, e.getMessage());
            throw e;
        }
        @Nullable Integer resultVersion = version;
        if (result instanceof WrappedDek w) {
            resultVersion = w.kek().version();
        } else if (result instanceof KekRef k) {
            resultVersion = k.version();
        }
        emit(provider, operation, keyName, resultVersion, KmsOutcome.OK, start, null);
        return result;
    }

    private void emit(
            String provider,
            KmsOperation operation,
            String keyName,
            @Nullable Integer version,
            KmsOutcome outcome,
            long startNanos,
            @Nullable String detail) {
        @Nullable String tenant;
        try {
            tenant = tenantOfKeyName.apply(keyName);
        } catch (RuntimeException e) {
            tenant = null;
        }
        listener.onEvent(new KmsAuditEvent(
                clock.instant(),
                tenant,
                provider,
                operation,
                keyName,
                version,
                outcome,
                (System.nanoTime() - startNanos) / 1_000,
                detail));
    }
}
