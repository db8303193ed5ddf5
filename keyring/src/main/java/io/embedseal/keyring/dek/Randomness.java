package io.embedseal.keyring.dek;

import java.security.DrbgParameters;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * Where DEK key bytes, DEK ids and record nonces come from. Production always uses {@link #secure()};
 * another source exists only to reproduce the fixed test vector in {@code docs/envelope-format.md}.
 */
@FunctionalInterface
public interface Randomness {

    void nextBytes(byte[] bytes);

    /** Fills {@code out[offset, offset+length)}: a nonce straight into the envelope it belongs to. */
    default void nextBytes(byte[] out, int offset, int length) {
        byte[] b = new byte[length];
        nextBytes(b);
        System.arraycopy(b, 0, out, offset, length);
    }

    /**
     * A NIST SP 800-90A DRBG per thread (the JDK's Hash_DRBG, SHA-256, 256-bit strength, seeded from the
     * system's entropy source). Per thread because the JDK's default {@code NativePRNG} serialises every caller
     * on one lock: two stream threads drawing a nonce per record spent about 0.9 µs waiting for it.
     *
     * <p>Requests of at most {@value SecureRandomHolder#BUFFERED_MAX} bytes (record nonces and DEK ids, both
     * written in the clear into every envelope) are served from a per-thread buffer of DRBG output, each byte
     * handed out once and then cleared, so one DRBG call covers about 85 records; longer requests (key bytes)
     * are drawn from the DRBG directly and never sit in a buffer.
     */
    static Randomness secure() {
        return SecureRandomHolder.SECURE;
    }

    /** Holds one DRBG, and a buffer of its output for short public values, per thread. */
    final class SecureRandomHolder {

        /** The longest request served from the buffer: nonces (12 bytes) and DEK ids (16). */
        public static final int BUFFERED_MAX = 16;

        private static final int BUFFER_BYTES = 1024;
        private static final ThreadLocal<State> STATE = ThreadLocal.withInitial(State::new);

        static final Randomness SECURE = new Randomness() {
            @Override
            public void nextBytes(byte[] bytes) {
                STATE.get().nextBytes(bytes, 0, bytes.length);
            }

            @Override
            public void nextBytes(byte[] out, int offset, int length) {
                java.util.Objects.checkFromIndexSize(offset, length, out.length);
                STATE.get().nextBytes(out, offset, length);
            }
        };

        private SecureRandomHolder() {}

        private static final class State {
            private final SecureRandom drbg = newDrbg();
            private final byte[] buffer = new byte[BUFFER_BYTES];
            private int next = BUFFER_BYTES;

            void nextBytes(byte[] out, int offset, int length) {
                if (length > BUFFERED_MAX) {
                    byte[] direct = offset == 0 && length == out.length ? out : new byte[length];
                    drbg.nextBytes(direct);
                    if (direct != out) {
                        System.arraycopy(direct, 0, out, offset, length);
                        Arrays.fill(direct, (byte) 0);
                    }
                    return;
                }
                if (next + length > BUFFER_BYTES) {
                    drbg.nextBytes(buffer);
                    next = 0;
                }
                System.arraycopy(buffer, next, out, offset, length);
                Arrays.fill(buffer, next, next + length, (byte) 0);
                next += length;
            }
        }

        private static SecureRandom newDrbg() {
            try {
                return SecureRandom.getInstance(
                        "DRBG", DrbgParameters.instantiation(256, DrbgParameters.Capability.RESEED_ONLY, null));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("this JVM has no DRBG SecureRandom with 256-bit strength", e);
            }
        }
    }
}
