package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import java.time.Duration;
import java.util.Objects;

/**
 * Whether a KMS answers at all: any answer but "unavailable" (even "no such key") counts. Asked with a key name no
 * tenant has, on the bare provider (no retry, no audit entry), at most once per interval. It tells a fault of one
 * tenant's key (the KMS answers, that key does not) from an outage of the KMS (it answers nobody), and backs the
 * readiness probe.
 */
public final class KmsReachability {

    /** A key name no tenant can have (tenant ids cannot contain this one's shape under any template). */
    public static final String PROBE_KEY = "embedseal-readiness-probe";

    private final Kms bare;
    private final long intervalNanos;
    private long checkedAtNanos;
    private boolean checked;
    private boolean answered;

    public KmsReachability(Kms bare, Duration interval) {
        this.bare = Objects.requireNonNull(bare, "bare");
        this.intervalNanos = interval.toNanos();
    }

    /** Keys unavailable at once (within a fault cool-down) from which on the KMS is taken to fail for everybody. */
    public static final int BROWNOUT_KEYS = 3;

    /**
     * Whether an "unavailable" answer for one key is that key's own fault, or the KMS's for everybody: everybody's
     * when every slot for calls is taken by calls that hang ({@link KmsDeadline}), when {@code keysUnavailable} other
     * keys went unavailable within the cool-down (a brownout the probe's route does not see), or when the KMS does
     * not answer the probe.
     */
    public boolean isKeysOwnFault(Throwable e, int keysUnavailable) {
        return !KmsDeadline.isBusy(e) && keysUnavailable < BROWNOUT_KEYS && answers();
    }

    /** Whether the KMS answered the last probe, probing again if the last one is older than the interval. */
    public synchronized boolean answers() {
        long now = System.nanoTime();
        if (checked && now - checkedAtNanos < intervalNanos) {
            return answered;
        }
        boolean a;
        try {
            bare.describe(PROBE_KEY);
            a = true;
        } catch (KmsUnavailableException e) {
            a = false;
        } catch (KmsException e) {
            a = true; // unknown key, denied: the KMS is there and says so
        }
        answered = a;
        checked = true;
        checkedAtNanos = System.nanoTime();
        return a;
    }
}
