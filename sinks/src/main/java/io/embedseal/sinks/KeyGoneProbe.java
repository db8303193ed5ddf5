package io.embedseal.sinks;

import io.embedseal.keyring.KeyMismatchException;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Asks a tenant's KMS whether its KEK is gone before a sink shreds the tenant on DESTROYED: a signed DESTROYED
 * whose key still works (published before the key was destroyed, or by a compromised signer) stops unsealing at
 * once but deletes nothing until the KMS agrees. The question is an unwrap of a DEK the sink saw wrapped under the
 * tenant's KEK, with the sink's own data-key rights (a sink may only decrypt): it succeeds while the key lives;
 * "unknown key" or "denied" means the key is gone or cannot be used any more. Samples are kept only from envelopes
 * the KMS has just unwrapped (index mode, and sealed mode with {@code embedseal.envelope.verify}), so a forged
 * envelope naming a version that never existed cannot make the KMS say "unknown"; a sealed-mode store that does not
 * verify never unwraps and has no sample. The sink task also asks it when a record names an older key version the KMS
 * refuses: whether the tenant's current key is refused too.
 */
final class KeyGoneProbe {

    /** What the KMS said. */
    enum Answer {
        /** The KMS no longer knows the key, or refuses it: shred. */
        GONE,
        /** The KMS still unwraps under it: do not shred yet. */
        ALIVE,
        /** The KMS could not be asked (unreachable, or an answer that proves neither): ask again later. */
        UNKNOWN,
        /** No wrapped DEK of the tenant was seen since the task started, so there is nothing to ask with. */
        NO_SAMPLE
    }

    private record Sample(KekRef kek, DekId dekId, byte[] wrapped) {}

    private final Map<String, Sample> samples = new ConcurrentHashMap<>();

    /** Keeps the latest wrapped DEK seen for the header's tenant (one per tenant, a few hundred bytes). */
    void remember(EnvelopeHeader header) {
        samples.put(header.tenantId(), new Sample(header.kek(), header.dekId(), header.wrappedDek()));
    }

    /** Asks the KMS through the keyring, bypassing its cache (the tenant's DEKs are evicted first). */
    Answer ask(Keyring keyring, String tenant) {
        Sample s = samples.get(tenant);
        if (s == null) {
            return Answer.NO_SAMPLE;
        }
        keyring.evict(tenant);
        try {
            var unused = keyring.openDek(tenant, s.kek(), s.dekId(), s.wrapped());
            keyring.evict(tenant);
            return Answer.ALIVE;
        } catch (UnknownKeyException | KeyDeniedException e) {
            return Answer.GONE;
        } catch (InvalidWrappedKeyException | KeyMismatchException e) {
            return Answer.UNKNOWN; // the sample proves nothing about the key
        } catch (KmsUnavailableException e) {
            return Answer.UNKNOWN;
        } catch (KmsException e) {
            return Answer.UNKNOWN;
        }
    }

    /** The KEK a sample names, for messages. */
    @Nullable
    KekRef sampledKek(String tenant) {
        Sample s = samples.get(tenant);
        return s == null ? null : s.kek();
    }

    void forget(String tenant) {
        samples.remove(tenant);
    }
}
