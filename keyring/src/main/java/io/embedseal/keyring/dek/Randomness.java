package io.embedseal.keyring.dek;

import java.security.SecureRandom;

/**
 * Where DEK key bytes, DEK ids and record nonces come from. Production always uses {@link #secure()};
 * another source exists only to reproduce the fixed test vector in {@code docs/envelope-format.md}.
 */
@FunctionalInterface
public interface Randomness {

    void nextBytes(byte[] bytes);

    /** A {@link SecureRandom} per thread: no lock shared between stream threads on the per-record path. */
    static Randomness secure() {
        return SecureRandomHolder::nextBytes;
    }

    /** Holds one {@link SecureRandom} per thread. */
    final class SecureRandomHolder {
        private static final ThreadLocal<SecureRandom> RANDOM = ThreadLocal.withInitial(SecureRandom::new);

        private SecureRandomHolder() {
        }

        static void nextBytes(byte[] bytes) {
            RANDOM.get().nextBytes(bytes);
        }
    }
}
