package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KmsOperation;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * One cross-cutting behaviour (retry, metrics, audit) around every KMS call, data-key use
 * ({@link InterceptedKms}) and administration ({@link InterceptedKeyAdministration}) alike, so each behaviour
 * is written once and neither interface grows a decorator per method.
 */
@FunctionalInterface
public interface KmsInterceptor {

    /**
     * Runs one operation.
     *
     * @param provider the KMS provider's name
     * @param keyName  the key the operation is about
     * @param version  the KEK version named by the caller, or null when the KMS picks it
     * @param call     the operation itself (the next interceptor, or the provider)
     */
    <T> T around(String provider, KmsOperation operation, String keyName, @Nullable Integer version, Supplier<T> call);
}
