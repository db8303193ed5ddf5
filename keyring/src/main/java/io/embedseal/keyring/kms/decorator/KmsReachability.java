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
