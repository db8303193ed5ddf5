package io.embedseal.keyring;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.PublicKek;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.jspecify.annotations.Nullable;

/**
 * Tenants' public KEKs as a producer that seals on its own side is configured with: a properties file, one line per
 * tenant, {@code <tenant>=<provider>:<key name>:<version>:<SubjectPublicKeyInfo, base64>}, written by {@code embedseal
 * tenants public-keks} from the key events it verified (so from the signed REGISTERED or ROTATED that pinned each key).
 * A producer configured with it seals those tenants with no KMS and no credential at all.
 */
public final class PinnedPublicKeks {

    private PinnedPublicKeks() {}

    /** The line's value for one tenant's pinned key. */
    public static String value(PublicKek pk) {
        return pk.kek() + ":" + Base64.getEncoder().encodeToString(pk.spki());
    }

    /**
     * Reads the file.
     *
     * @throws IllegalArgumentException naming the file and the tenant whose line is not a public KEK
     */
    public static Map<String, PublicKek> read(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the public KEKs file " + file + ": " + e.getMessage(), e);
        }
        Map<String, PublicKek> out = new LinkedHashMap<>();
        for (String tenant : p.stringPropertyNames()) {
            if (!TenantIds.isValid(tenant)) {
                throw new IllegalArgumentException(file + ": '" + tenant + "' is no tenant id");
            }
            String v = p.getProperty(tenant).trim();
            int last = v.lastIndexOf(':');
            try {
                KekRef kek = KekRef.parse(v.substring(0, Math.max(0, last)));
                PublicKek pk = PublicKek.of(kek, Base64.getDecoder().decode(v.substring(last + 1)));
                if (!pk.suitsProvider(kek.provider())) {
                    throw new IllegalArgumentException(
                            "a " + pk.describeKey() + " key cannot be held by the " + kek.provider() + " KMS");
                }
                out.put(tenant, pk);
            } catch (IllegalArgumentException | StringIndexOutOfBoundsException e) {
                throw new IllegalArgumentException(
                        file + ": tenant " + tenant + "'s line is not "
                                + "<provider>:<key>:<version>:<public key, base64>: " + e.getMessage(),
                        e);
            }
        }
        return Map.copyOf(out);
    }

    /** {@code base}, with these tenants' KEK names and public KEKs from the file. */
    public static KekResolver resolver(KekResolver base, Map<String, PublicKek> pinned) {
        Objects.requireNonNull(base, "base");
        Map<String, PublicKek> keys = Map.copyOf(pinned);
        return new KekResolver() {
            @Override
            public String kekNameFor(String tenantId) {
                PublicKek pk = keys.get(tenantId);
                return pk != null ? pk.kek().keyName() : base.kekNameFor(tenantId);
            }

            @Override
            public @Nullable String tenantFor(String keyName) {
                for (Map.Entry<String, PublicKek> e : keys.entrySet()) {
                    if (e.getValue().kek().keyName().equals(keyName)) {
                        return e.getKey();
                    }
                }
                return base.tenantFor(keyName);
            }

            @Override
            public @Nullable PublicKek publicKekFor(String tenantId) {
                return keys.get(tenantId);
            }
        };
    }
}
