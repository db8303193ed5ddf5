package io.embedseal.control;

import java.security.PublicKey;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The public keys whose signatures register tenants (and sign the later events of tenants that name no authority of
 * their own): the operator's signing keys, by key id. Pinned in settings or read from a KMS at start; never a
 * private key.
 */
public final class TrustedSigners {

    private final Map<String, PublicKey> byId;

    private TrustedSigners(Map<String, PublicKey> byId) {
        this.byId = Map.copyOf(byId);
    }

    public static TrustedSigners of(Iterable<PublicKey> keys) {
        Map<String, PublicKey> m = new LinkedHashMap<>();
        for (PublicKey k : keys) {
            m.put(KeyEventSignatures.keyId(k), k);
        }
        return new TrustedSigners(m);
    }

    public static TrustedSigners of(PublicKey... keys) {
        return of(java.util.List.of(keys));
    }

    /** No trusted signer: every signed event is refused (for development mode, which verifies nothing). */
    public static TrustedSigners none() {
        return new TrustedSigners(Map.of());
    }

    public @Nullable PublicKey get(String keyId) {
        return byId.get(keyId);
    }

    public Set<String> ids() {
        return byId.keySet();
    }

    public boolean isEmpty() {
        return byId.isEmpty();
    }

    @Override
    public String toString() {
        return "TrustedSigners" + byId.keySet();
    }
}
