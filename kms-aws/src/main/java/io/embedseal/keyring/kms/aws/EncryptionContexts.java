package io.embedseal.keyring.kms.aws;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The AWS KMS encryption context for a wrap's associated data and KEK version. AWS binds the context to the ciphertext
 * (a Decrypt with any other context fails) and writes it in clear into every CloudTrail record of the call, so the
 * tenant sees for each use of its key which tenant, which purpose and which DEK it was for.
 *
 * <p>embedseal's associated data has the shape {@code purpose 0x00 len(tenant) tenant id}
 * ({@code "embedseal.dek.v1"}, {@code "embedseal.index-key.v1"}, {@code "embedseal.vector-key.v1"}, ...). Such data
 * becomes {@code embedseal:purpose}, {@code embedseal:tenant} and {@code embedseal:id} (the rest, in hex); anything
 * else becomes {@code embedseal:aad} (base64). Either way the mapping is one to one: the context names exactly the
 * bytes it stands for, so two different associated data never share a context. {@code embedseal:kek-version} binds the
 * version embedseal stores the wrap under, so a wrap presented under another version does not open.
 */
final class EncryptionContexts {

    static final String PURPOSE = "embedseal:purpose";
    static final String TENANT = "embedseal:tenant";
    static final String ID = "embedseal:id";
    static final String AAD = "embedseal:aad";
    static final String KEK_VERSION = "embedseal:kek-version";

    private EncryptionContexts() {}

    static Map<String, String> of(byte[] associatedData, int kekVersion) {
        Map<String, String> context = new LinkedHashMap<>();
        if (!structured(associatedData, context)) {
            context.clear();
            context.put(AAD, Base64.getEncoder().encodeToString(associatedData));
        }
        context.put(KEK_VERSION, Integer.toString(kekVersion));
        return context;
    }

    /** Fills purpose, tenant and id if the data has embedseal's shape, and only if they give back the same bytes. */
    private static boolean structured(byte[] aad, Map<String, String> context) {
        int zero = -1;
        for (int i = 0; i < aad.length; i++) {
            if (aad[i] == 0) {
                zero = i;
                break;
            }
            if (aad[i] < 0x21 || aad[i] > 0x7e) {
                return false;
            }
        }
        if (zero < 1 || zero + 2 > aad.length) {
            return false;
        }
        int tenantLength = aad[zero + 1] & 0xff;
        int tenantStart = zero + 2;
        if (tenantLength == 0 || tenantStart + tenantLength > aad.length) {
            return false;
        }
        String tenant;
        try {
            tenant = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(aad, tenantStart, tenantLength))
                    .toString();
        } catch (CharacterCodingException e) {
            return false;
        }
        byte[] rest = Arrays.copyOfRange(aad, tenantStart + tenantLength, aad.length);
        context.put(PURPOSE, new String(aad, 0, zero, StandardCharsets.US_ASCII));
        context.put(TENANT, tenant);
        context.put(ID, HexFormat.of().formatHex(rest));
        return Arrays.equals(rebuild(context), aad);
    }

    /** The associated data a structured context stands for. */
    static byte[] rebuild(Map<String, String> context) {
        byte[] purpose = context.getOrDefault(PURPOSE, "").getBytes(StandardCharsets.US_ASCII);
        byte[] tenant = context.getOrDefault(TENANT, "").getBytes(StandardCharsets.UTF_8);
        byte[] rest = HexFormat.of().parseHex(context.getOrDefault(ID, ""));
        if (tenant.length > 255) {
            return new byte[0];
        }
        ByteBuffer b = ByteBuffer.allocate(purpose.length + 2 + tenant.length + rest.length);
        b.put(purpose).put((byte) 0).put((byte) tenant.length).put(tenant).put(rest);
        return b.array();
    }
}
