package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;

/** Receives one call per KMS attempt: what, how it ended, how long it took. Must be fast and thread-safe. */
@FunctionalInterface
public interface KmsObserver {
    void onCall(String provider, KmsOperation operation, KmsOutcome outcome, long nanos);
}
